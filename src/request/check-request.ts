/**
 * The parts of Envoy's `envoy.service.auth.v3.CheckRequest` that Verdict reads, in the
 * shape proto-loader produces with `keepCase: true` (field names as in the .proto).
 */
export interface HeaderValueLike {
  key?: string;
  value?: string;
  raw_value?: Uint8Array | string;
}

export interface CheckRequestLike {
  attributes?: {
    source?: { address?: { socket_address?: { address?: string; port_value?: number | string } } };
    destination?: { address?: { socket_address?: { address?: string; port_value?: number | string } } };
    request?: {
      http?: {
        id?: string;
        method?: string;
        headers?: Record<string, string>;
        header_map?: { headers?: HeaderValueLike[] };
        path?: string;
        host?: string;
        scheme?: string;
        protocol?: string;
      } | null;
    };
    context_extensions?: Record<string, string>;
  };
}

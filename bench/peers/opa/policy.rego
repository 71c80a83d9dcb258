# The bench policy (bench/policy.ts) in Rego, for opa-envoy-plugin: the same decision for
# the same request. A bearer JWT verified with io.jwt.decode_verify against the same JWKS
# (data.bench.jwks, written by bench/envoy.ts), the same issuer, audience and algorithm;
# then the same 20 routes: app0..app18 by host (exact or wildcard) with their group/email
# rule and method deny, and `grafana` by host and anchored path regex with
# (groups has sre or email is boss@example.com) and source network and user-agent,
# DELETE denied. Only an allowed route allows (`allow` defaults to false).
package envoy.authz

import rego.v1

default allow := false

http := input.attributes.request.http

host := lower(split(http.host, ":")[0])

path := split(http.path, "?")[0]

source_ip := input.attributes.source.address.socketAddress.address

token := substring(http.headers.authorization, 7, -1) if startswith(http.headers.authorization, "Bearer ")

claims := payload if {
	[valid, _, payload] := io.jwt.decode_verify(token, {
		"cert": json.marshal(data.bench.jwks),
		"iss": data.bench.issuer,
		"aud": "verdict",
		"alg": "RS256",
	})
	valid
}

# As Verdict reads claims: groups compared lower-cased; an email only when the issuer
# vouches for it (email_verified is boolean true) and it has exactly one @ with text on both
# sides, held lower-cased. Without one, `email` is undefined and no email rule matches.
groups := {lower(g) | some g in object.get(claims, "groups", [])}

email := lower(claims.email) if {
	claims.email_verified == true
	parts := split(claims.email, "@")
	count(parts) == 2
	parts[0] != ""
	parts[1] != ""
}

# Route grafana (the benchmarked request).
allow if {
	host == "grafana.example.com"
	regex.match(`^(?:/(d|api)/[a-z0-9/_-]*)$`, path)
	grafana_allowed
	http.method != "DELETE"
}

grafana_allowed if {
	identity_ok
	net.cidr_contains_matches(data.bench.source_networks, source_ip) != set()
	object.get(http.headers, "user-agent", "") != "BadBot/1.0"
}

identity_ok if "sre" in groups

identity_ok if email == "boss@example.com"

# Routes app-0 … app-18.
app_route := i if {
	some i in numbers.range(0, 18)
	app_host(i)
}

app_host(i) if host == sprintf("app%d.example.com", [i])

app_host(i) if endswith(host, sprintf(".app%d.example.com", [i]))

allow if {
	i := app_route
	app_allowed(i)
	not app_denied
}

app_allowed(i) if {
	some g in groups
	g in {sprintf("team-%d", [i]), "admins"}
}

app_allowed(i) if endswith(email, sprintf("@team%d.example.com", [i]))

app_denied if {
	http.method in {"DELETE", "PATCH"}
	not "admins" in groups
}

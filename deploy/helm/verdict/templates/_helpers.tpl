{{- define "verdict.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "verdict.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "verdict.labels" -}}
{{ include "verdict.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* verdict.json: the chart's base, then the user's `config` over it. */}}
{{- define "verdict.config" -}}
{{- $base := dict
  "grpc" (dict "listen" (printf "0.0.0.0:%v" .Values.service.grpcPort))
  "http" (dict "listen" (printf "0.0.0.0:%v" .Values.service.httpPort))
  "policies" (dict "dir" "/etc/verdict/policies")
  "audit" (dict "sink" "stdout")
  "shutdown" (dict "drain_delay" .Values.shutdown.drainDelay "grace_period" .Values.shutdown.gracePeriod)
-}}
{{- if eq .Values.sessionStore.type "redis" -}}
{{- $_ := set $base "identity" (dict "session" (dict "store" (dict "type" "redis" "prefix" .Values.sessionStore.prefix))) -}}
{{- end -}}
{{- if .Values.tracing.endpoint -}}
{{- $_ := set $base "telemetry" (dict "tracing" (dict "endpoint" .Values.tracing.endpoint "protocol" .Values.tracing.protocol "sample_ratio" .Values.tracing.sampleRatio "service_name" (include "verdict.fullname" .))) -}}
{{- end -}}
{{- mustMergeOverwrite $base (deepCopy .Values.config) | toPrettyJson -}}
{{- end -}}

{{- define "verdict.checks" -}}
{{- if and (eq .Values.sessionStore.type "redis") (not .Values.existingSecret) -}}
{{- fail "sessionStore.type=redis needs existingSecret with VERDICT_SESSION_REDIS_URL" -}}
{{- end -}}
{{- if not (has .Values.sessionStore.type (list "memory" "redis")) -}}
{{- fail "sessionStore.type is memory or redis" -}}
{{- end -}}
{{- $oidc := and (hasKey .Values.config "identity") (hasKey (.Values.config.identity | default dict) "oidc") -}}
{{- /* Secrets never go into the rendered ConfigMap (readable by anyone who may read ConfigMaps): only from existingSecret. */ -}}
{{- $c := .Values.config | default dict -}}
{{- $id := get $c "identity" | default dict -}}
{{- $session := get $id "session" | default dict -}}
{{- if hasKey (get $id "oidc" | default dict) "client_secret" -}}
{{- fail "config.identity.oidc.client_secret would be rendered into a ConfigMap: put VERDICT_OIDC_CLIENT_SECRET in existingSecret" -}}
{{- end -}}
{{- if hasKey $session "keys" -}}
{{- fail "config.identity.session.keys would be rendered into a ConfigMap: put VERDICT_SESSION_KEYS in existingSecret" -}}
{{- end -}}
{{- if hasKey (get $session "store" | default dict) "url" -}}
{{- fail "config.identity.session.store.url (it may hold the Redis password) would be rendered into a ConfigMap: put VERDICT_SESSION_REDIS_URL in existingSecret" -}}
{{- end -}}
{{- range (get (get $c "admin" | default dict) "tokens" | default list) -}}
{{- if hasKey . "token" -}}
{{- fail "config.admin.tokens[].token would be rendered into a ConfigMap: use token_file under /etc/verdict/secrets or VERDICT_ADMIN_TOKEN in existingSecret" -}}
{{- end -}}
{{- end -}}
{{- if and $oidc (gt (int .Values.replicaCount) 1) (eq .Values.sessionStore.type "memory") -}}
{{- fail "OIDC login with more than one replica needs sessionStore.type=redis (a memory store is per pod)" -}}
{{- end -}}
{{- end -}}

{{/*
Shared helpers. The manifest facts (files/deployables.json, generated from packages/manifest)
are read once per use with `include "bulkhead.facts" . | fromJson`.
*/}}

{{- define "bulkhead.facts" -}}
{{- .Files.Get "files/deployables.json" -}}
{{- end -}}

{{/* The release's name prefix: the release name, or release-chart when they differ. */}}
{{- define "bulkhead.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 20 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 20 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* A resource name: <fullname>-<part>, failing clearly past 63 characters. */}}
{{- define "bulkhead.name" -}}
{{- $name := printf "%s-%s" (include "bulkhead.fullname" .root) .part -}}
{{- if gt (len $name) 63 -}}
{{- fail (printf "resource name %q is longer than 63 characters: use a shorter release name or cell id" $name) -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{- define "bulkhead.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: bulkhead
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one instance: {root, component, cell}. */}}
{{- define "bulkhead.selectorLabels" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- if .cell }}
bulkhead/cell: {{ .cell }}
{{- end }}
{{- end -}}

{{- define "bulkhead.labels" -}}
{{ include "bulkhead.commonLabels" .root }}
app.kubernetes.io/name: {{ .component }}
{{ include "bulkhead.selectorLabels" . }}
{{- end -}}

{{- define "bulkhead.image" -}}
{{- $img := .root.Values.image -}}
{{- $repo := ternary (printf "%s/%s" $img.registry $img.repository) $img.repository (ne $img.registry "") -}}
{{- printf "%s/%s:%s" $repo .component (default .root.Chart.AppVersion $img.tag) -}}
{{- end -}}

{{- define "bulkhead.secretName" -}}
{{- default (include "bulkhead.name" (dict "root" . "part" "secrets")) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Infrastructure addresses: in-cluster Services when deployed, the configured ones otherwise. */}}
{{- define "bulkhead.postgresHost" -}}
{{- if .Values.postgres.deploy -}}{{ include "bulkhead.name" (dict "root" . "part" "postgres") }}{{- else -}}{{ required "postgres.host is required when postgres.deploy is false" .Values.postgres.host }}{{- end -}}
{{- end -}}
{{- define "bulkhead.kafkaBrokers" -}}
{{- if .Values.kafka.deploy -}}
{{- $n := include "bulkhead.name" (dict "root" . "part" "kafka") -}}
{{- printf "%s-0.%s.%s.svc:9092" $n $n .Release.Namespace -}}
{{- else -}}
{{- if not .Values.kafka.brokers }}{{ fail "kafka.brokers is required when kafka.deploy is false" }}{{ end -}}
{{- join "," .Values.kafka.brokers -}}
{{- end -}}
{{- end -}}
{{- define "bulkhead.redisHost" -}}
{{- if .Values.redis.deploy -}}{{ include "bulkhead.name" (dict "root" . "part" "redis") }}{{- else -}}{{ required "redis.host is required when redis.deploy is false" .Values.redis.host }}{{- end -}}
{{- end -}}

{{/* The hardened security context of every container (Online Boutique's, plus seccomp). */}}
{{- define "bulkhead.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "bulkhead.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

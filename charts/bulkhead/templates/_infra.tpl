{{/*
Shared parts of the in-cluster infrastructure (postgres.yaml, kafka.yaml, redis.yaml): one
single-instance StatefulSet each, with a persistent volume, a Service and an allow for exactly
the deployables the manifest says connect to it. Argument dict: root, part, port.
*/}}

{{- define "bulkhead.infraLabels" -}}
{{ include "bulkhead.commonLabels" .root }}
app.kubernetes.io/name: {{ .part }}
{{ include "bulkhead.selectorLabels" (dict "root" .root "component" .part "cell" "") }}
{{- end -}}

{{- define "bulkhead.infraVolumeClaim" -}}
- metadata:
    name: data
  spec:
    accessModes: [ReadWriteOnce]
    {{- with .storage.storageClassName }}
    storageClassName: {{ . }}
    {{- end }}
    resources:
      requests:
        storage: {{ .storage.size }}
{{- end -}}

{{/* The ServiceAccount, Service and NetworkPolicy of one infrastructure part. */}}
{{- define "bulkhead.infraNetwork" -}}
{{- $root := .root -}}
{{- $facts := include "bulkhead.facts" $root | fromJson -}}
{{- $name := include "bulkhead.name" (dict "root" $root "part" .part) -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  labels:
    {{- include "bulkhead.infraLabels" . | nindent 4 }}
automountServiceAccountToken: false
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels:
    {{- include "bulkhead.infraLabels" . | nindent 4 }}
spec:
  {{- if .headless }}
  clusterIP: None
  publishNotReadyAddresses: true
  {{- end }}
  selector:
    {{- include "bulkhead.selectorLabels" (dict "root" $root "component" .part "cell" "") | nindent 4 }}
  ports:
    - { name: {{ .portName }}, port: {{ .port }}, targetPort: {{ .portName }}, protocol: TCP }
{{- if $root.Values.networkPolicy.enabled }}
---
# Only the deployables that use {{ .part }} (the manifest's infra lists) may connect.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $name }}
  labels:
    {{- include "bulkhead.infraLabels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "bulkhead.selectorLabels" (dict "root" $root "component" .part "cell" "") | nindent 6 }}
  policyTypes: [Ingress]
  ingress:
    - ports:
        - { port: {{ .port }}, protocol: TCP }
      from:
      {{- range (index $facts.infraClients .part) }}
        - podSelector:
            matchLabels:
              app.kubernetes.io/instance: {{ $root.Release.Name }}
              app.kubernetes.io/component: {{ . }}
      {{- end }}
{{- end }}
{{- end -}}

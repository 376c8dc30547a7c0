{{/*
The optional observability backends (values.observability; docs/deploy.md): Jaeger, the
OpenTelemetry Collector, Prometheus and Grafana. Each is one file of this folder; the shared parts
are here. Their configs are single-source files of the chart (files/observability/*.yaml, the
local stack's too, with ${env:VAR} placeholders the containers' env fills; files/prometheus/rules;
files/dashboards), mounted from ConfigMaps whose checksum rolls the pod when they change.
*/}}

{{/* The OTLP/gRPC endpoint every Bulkhead process exports spans to: the collector, or Jaeger
directly when only Jaeger runs; "" when neither (spans are then not recorded at all). */}}
{{- define "bulkhead.otlpEndpoint" -}}
{{- $o := .Values.observability -}}
{{- if $o.collector.enabled -}}
{{- printf "http://%s:4317" (include "bulkhead.name" (dict "root" . "part" "otel-collector")) -}}
{{- else if $o.jaeger.enabled -}}
{{- printf "http://%s:4317" (include "bulkhead.name" (dict "root" . "part" "jaeger")) -}}
{{- end -}}
{{- end -}}

{{/* A config file of the chart, failing clearly when it is absent. Argument dict: root, file, part. */}}
{{- define "bulkhead.observabilityFile" -}}
{{- $content := .root.Files.Get .file -}}
{{- if not $content -}}
{{- fail (printf "observability.%s.enabled needs %s in the chart" .part .file) -}}
{{- end -}}
{{- $content -}}
{{- end -}}

{{/* The pod selector labels of a Bulkhead deployable (or a backend) of this release. */}}
{{- define "bulkhead.peer" -}}
- podSelector:
    matchLabels:
      app.kubernetes.io/instance: {{ .root.Release.Name }}
      app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The deployables that run a Bulkhead process in a pod of their own (a sidecar shares its pod). */}}
{{- define "bulkhead.podComponents" -}}
{{- $facts := include "bulkhead.facts" . | fromJson -}}
{{- $names := list -}}
{{- range $name, $spec := $facts.deployables }}{{ if ne $spec.kind "sidecar" }}{{ $names = append $names $name }}{{ end }}{{ end -}}
{{- toJson $names -}}
{{- end -}}

{{/*
The Service, PodDisruptionBudget and NetworkPolicy of one backend. Argument dict: root, part,
ports (list of {name, port, from}), where from is a list of component names whose pods may
connect, or "public" for networkPolicy.publicFrom (default: anyone).
*/}}
{{- define "bulkhead.backendNetwork" -}}
{{- $root := .root -}}
{{- $name := include "bulkhead.name" (dict "root" $root "part" .part) -}}
{{- $labels := dict "root" $root "part" .part -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels:
    {{- include "bulkhead.infraLabels" $labels | nindent 4 }}
spec:
  selector:
    {{- include "bulkhead.selectorLabels" (dict "root" $root "component" .part "cell" "") | nindent 4 }}
  ports:
  {{- range .ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      protocol: TCP
      appProtocol: {{ ternary "kubernetes.io/h2c" "http" (hasSuffix "grpc" .name) }}
  {{- end }}
{{- if not .statefulSet }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  labels:
    {{- include "bulkhead.infraLabels" $labels | nindent 4 }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      {{- include "bulkhead.selectorLabels" (dict "root" $root "component" .part "cell" "") | nindent 6 }}
{{- end }}
{{- if $root.Values.networkPolicy.enabled }}
---
# Only the pods that use {{ .part }} may connect to each of its ports.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $name }}
  labels:
    {{- include "bulkhead.infraLabels" $labels | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "bulkhead.selectorLabels" (dict "root" $root "component" .part "cell" "") | nindent 6 }}
  policyTypes: [Ingress]
  ingress:
  {{- range .ports }}
    - ports:
        - { port: {{ .port }}, protocol: TCP }
      {{- if eq (toString .from) "public" }}
      {{- with $root.Values.networkPolicy.publicFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- else }}
      from:
      {{- range .from }}
        {{- include "bulkhead.peer" (dict "root" $root "component" .) | nindent 8 }}
      {{- end }}
      {{- end }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* The pod-level parts every backend shares: hardened, its own ServiceAccount, spread. */}}
{{- define "bulkhead.backendPodSpec" -}}
serviceAccountName: {{ include "bulkhead.name" (dict "root" .root "part" .part) }}
automountServiceAccountToken: {{ .apiAccess | default false }}
enableServiceLinks: false
securityContext:
  {{- include "bulkhead.podSecurityContext" (dict "uid" .uid) | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if not .statefulSet }}
topologySpreadConstraints:
  {{- range list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
  - maxSkew: 1
    topologyKey: {{ . }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "bulkhead.selectorLabels" (dict "root" $.root "component" $.part "cell" "") | nindent 8 }}
  {{- end }}
{{- end }}
{{- with .root.Values.podDefaults.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.podDefaults.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A backend's ServiceAccount (no API token unless apiAccess). */}}
{{- define "bulkhead.backendServiceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "bulkhead.name" (dict "root" .root "part" .part) }}
  labels:
    {{- include "bulkhead.infraLabels" (dict "root" .root "part" .part) | nindent 4 }}
automountServiceAccountToken: {{ .apiAccess | default false }}
{{- end -}}

{{/* A backend's image reference. */}}
{{- define "bulkhead.backendImage" -}}
image: {{ printf "%s:%s" .image.repository .image.tag }}
imagePullPolicy: {{ .image.pullPolicy | default "IfNotPresent" }}
{{- end -}}

{{/* Every distinct ops port (the one that serves /metrics) of the manifest's deployables. */}}
{{- define "bulkhead.opsPorts" -}}
{{- $facts := include "bulkhead.facts" . | fromJson -}}
{{- $ports := list -}}
{{- range $name, $spec := $facts.deployables }}{{ with $spec.ports.ops }}{{ $ports = append $ports (int .port) }}{{ end }}{{ end -}}
{{- toJson ($ports | uniq | sortAlpha) -}}
{{- end -}}

{{/*
prometheus.yml. One job: the pods of this release in its namespace (Kubernetes pod discovery,
filtered by the API server on the instance label), one target per container port named `ops`
or `sidecar-ops` (every Bulkhead process serves /metrics there; the gateway pod has two: the
gateway's ops and its config agent's sidecar-ops, since port names are unique in a pod).
Targets are labelled service (the container) and cell (the pod's bulkhead/cell label), which is
what `up` and the rules' absent() alerts need; honor_labels keeps the service and cell that each
process already sets on its own series (docs/observability.md) instead of renaming them
exported_*.
*/}}
{{- define "bulkhead.prometheusConfig" -}}
global:
  scrape_interval: {{ .Values.observability.prometheus.scrapeInterval }}
  evaluation_interval: {{ .Values.observability.prometheus.scrapeInterval }}
rule_files:
  - /etc/bulkhead/rules/*.yml
# The collector's span metrics carry their dimensions on every point (as locally:
# infra/local/observability/prometheus.yml); no resource attribute becomes a label.
otlp:
  promote_resource_attributes: []
scrape_configs:
  - job_name: bulkhead
    honor_labels: true
    metrics_path: /metrics
    kubernetes_sd_configs:
      - role: pod
        namespaces:
          names: [{{ .Release.Namespace }}]
        selectors:
          - role: pod
            label: app.kubernetes.io/instance={{ .Release.Name }}
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
        regex: 'true'
        action: keep
      - source_labels: [__meta_kubernetes_pod_container_port_name]
        regex: (sidecar-)?ops
        action: keep
      - source_labels: [__meta_kubernetes_pod_phase]
        regex: Running
        action: keep
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
        regex: (.+)
        target_label: __metrics_path__
      - source_labels: [__meta_kubernetes_pod_container_name]
        target_label: service
      - source_labels: [__meta_kubernetes_pod_label_bulkhead_cell]
        regex: (.+)
        target_label: cell
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
{{- end -}}

{{/*
Grafana's provisioning: the datasources (Prometheus as uid `prometheus`, the uid the dashboards
of packages/dashboards name; Jaeger as uid `jaeger` when it runs) and one file provider for the
dashboards ConfigMap, read-only (they change in the repo, not in the UI).
*/}}
{{- define "bulkhead.grafanaProvisioning" -}}
{{- $o := .Values.observability -}}
datasources.yaml: |
  apiVersion: 1
  datasources:
  {{- if $o.prometheus.enabled }}
    - name: Prometheus
      uid: prometheus
      type: prometheus
      access: proxy
      url: http://{{ include "bulkhead.name" (dict "root" . "part" "prometheus") }}:9090
      isDefault: true
      editable: false
      jsonData:
        timeInterval: {{ $o.prometheus.scrapeInterval }}
  {{- end }}
  {{- if $o.jaeger.enabled }}
    - name: Jaeger
      uid: jaeger
      type: jaeger
      access: proxy
      url: http://{{ include "bulkhead.name" (dict "root" . "part" "jaeger") }}:16686
      isDefault: {{ not $o.prometheus.enabled }}
      editable: false
  {{- end }}
dashboards.yaml: |
  apiVersion: 1
  providers:
    - name: bulkhead
      folder: Bulkhead
      type: file
      disableDeletion: true
      allowUiUpdates: false
      options:
        path: /etc/bulkhead/dashboards
{{- end -}}

{{/* A memory quantity in MiB (Mi or Gi only). */}}
{{- define "bulkhead.mebibytes" -}}
{{- $q := toString . -}}
{{- if hasSuffix "Gi" $q -}}{{ mul (trimSuffix "Gi" $q | int) 1024 }}
{{- else if hasSuffix "Mi" $q -}}{{ trimSuffix "Mi" $q | int }}
{{- else -}}{{ fail (printf "memory limit %q: give it in Mi or Gi" $q) }}
{{- end -}}
{{- end -}}

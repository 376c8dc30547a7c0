{{/*
The objects of one instance of a deployable, shared by every component (the one loop is in
components.yaml). The argument is a dict:
  root      the chart's root context
  facts     files/deployables.json, parsed
  component the deployable's name (a key of facts.deployables)
  cell      the cell id, for a cell service; "" otherwise
  part      the instance's name part: <cell>-<component> or <component>
*/}}

{{/* Settings of a component: values.components[name] over podDefaults. */}}
{{- define "bulkhead.settings" -}}
{{- $c := index .root.Values.components .component -}}
{{- toJson (mergeOverwrite (deepCopy .root.Values.podDefaults) (deepCopy $c)) -}}
{{- end -}}

{{/* The name of the Service of a component's instance in a cell ("" cell: not a cell service). */}}
{{- define "bulkhead.instanceName" -}}
{{- include "bulkhead.name" (dict "root" .root "part" (ternary (printf "%s-%s" .cell .component) .component (ne .cell ""))) -}}
{{- end -}}

{{/* The environment of one container: ports, infrastructure, calls, role-specific, then values. */}}
{{- define "bulkhead.env" -}}
{{- $root := .root -}}
{{- $spec := index .facts.deployables .component -}}
{{- $settings := include "bulkhead.settings" . | fromJson -}}
{{- range $portName, $port := $spec.ports }}
- name: {{ $port.env }}
  value: {{ $port.port | toString | quote }}
- name: {{ $port.hostEnv }}
  value: 0.0.0.0
{{- end }}
- name: LOG_LEVEL
  value: {{ $root.Values.logLevel | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ .component | quote }}
{{- $cellAttribute := ternary (printf ",bulkhead.cell=%s" .cell) "" (ne .cell "") }}
{{- with include "bulkhead.otlpEndpoint" $root }}
# Spans go to the collector (or Jaeger) of values.observability; unset, none are recorded.
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: K8S_POD_NAME
  valueFrom:
    fieldRef: { fieldPath: metadata.name }
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.instance.id=$(K8S_POD_NAME),k8s.namespace.name=%s,k8s.pod.name=$(K8S_POD_NAME)%s" $root.Release.Namespace $cellAttribute | quote }}
{{- end }}
{{- if .cell }}
- name: CELL_ID
  value: {{ .cell | quote }}
{{- end }}
{{- if has "postgres" $spec.infra }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef: { name: {{ include "bulkhead.secretName" $root }}, key: postgres-password }
- name: BULKHEAD_PG_URL
  value: {{ printf "postgres://%s@%s:%v/postgres" $root.Values.postgres.user (include "bulkhead.postgresHost" $root) $root.Values.postgres.port | quote }}
{{- end }}
{{- if has "kafka" $spec.infra }}
- name: BULKHEAD_KAFKA_BROKERS
  value: {{ include "bulkhead.kafkaBrokers" $root | quote }}
{{- end }}
{{- if has "redis" $spec.infra }}
{{- if $root.Values.redis.auth }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef: { name: {{ include "bulkhead.secretName" $root }}, key: redis-password }
- name: BULKHEAD_REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s:%v" (include "bulkhead.redisHost" $root) $root.Values.redis.port | quote }}
{{- else }}
- name: BULKHEAD_REDIS_URL
  value: {{ printf "redis://%s:%v" (include "bulkhead.redisHost" $root) $root.Values.redis.port | quote }}
{{- end }}
{{- end }}
{{- range $spec.configuredCalls }}
{{- $callee := index $.facts.deployables .to }}
- name: {{ .env }}
  value: {{ printf "%s:%v" (include "bulkhead.instanceName" (dict "root" $root "component" .to "cell" "")) (index $callee.ports .port).port | quote }}
{{- end }}
{{- if $spec.snapshotServices }}
- name: SNAPSHOT_PATH
  value: /var/run/bulkhead/routing-snapshot.json
{{- if eq $spec.kind "sidecar" }}
- name: SNAPSHOT_SERVICES
  value: {{ join "," $spec.snapshotServices | quote }}
{{- end }}
{{- end }}
{{- if eq $spec.kind "control-plane" }}
- name: CONTROL_PLANE_ADMIN_TOKEN
  valueFrom:
    secretKeyRef: { name: {{ include "bulkhead.secretName" $root }}, key: admin-token }
- name: CONTROL_PLANE_DEFAULT_RATE_LIMIT
  value: {{ $settings.defaultRateLimit | default 0 | toString | quote }}
- name: BULKHEAD_CELLS
  value: {{ include "bulkhead.cellsJson" . | quote }}
{{- end }}
{{- range $name, $value := $settings.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* BULKHEAD_CELLS: every cell with the in-cluster address of each of its services. */}}
{{- define "bulkhead.cellsJson" -}}
{{- $root := .root -}}
{{- $facts := .facts -}}
{{- $cells := list -}}
{{- range $root.Values.cells -}}
{{- $cell := .id -}}
{{- $endpoints := dict -}}
{{- range $facts.cellServices -}}
{{- $port := (index (index $facts.deployables .).ports "grpc").port -}}
{{- $_ := set $endpoints . (printf "%s:%v" (include "bulkhead.instanceName" (dict "root" $root "component" . "cell" $cell)) $port) -}}
{{- end -}}
{{- $cells = append $cells (dict "id" $cell "endpoints" $endpoints) -}}
{{- end -}}
{{- toJson $cells -}}
{{- end -}}

{{/* One container of a deployable (its main container, or a sidecar). */}}
{{- define "bulkhead.container" -}}
{{- $spec := index .facts.deployables .component -}}
{{- $settings := include "bulkhead.settings" . | fromJson -}}
{{- $probe := index $spec.ports $spec.probePort -}}
{{- $grpcPort := "" -}}
{{- range $name, $p := $spec.ports }}{{ if and (eq $p.protocol "grpc") (not $grpcPort) }}{{ $grpcPort = $p.port }}{{ end }}{{ end -}}
{{- /* Port names are unique in a pod: a sidecar's carry the prefix "sidecar-" (its ops port is
  sidecar-ops beside the main container's ops). */ -}}
{{- $portPrefix := ternary "sidecar-" "" (eq $spec.kind "sidecar") -}}
name: {{ .component }}
image: {{ include "bulkhead.image" . }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
ports:
{{- range $name, $p := $spec.ports }}
  - name: {{ $portPrefix }}{{ $name }}
    containerPort: {{ $p.port }}
    protocol: TCP
{{- end }}
env:
{{- include "bulkhead.env" . | nindent 2 }}
resources:
  {{- toYaml $settings.resources | nindent 2 }}
securityContext:
  {{- include "bulkhead.containerSecurityContext" (dict "uid" 1000) | nindent 2 }}
# Started once its probe port answers /healthz: migrations and broker waits may take a while,
# and a slow dependency must not get the process restarted.
startupProbe:
  httpGet: { path: /healthz, port: {{ $portPrefix }}{{ $spec.probePort }} }
  periodSeconds: 2
  failureThreshold: 90
livenessProbe:
  httpGet: { path: /healthz, port: {{ $portPrefix }}{{ $spec.probePort }} }
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
# Ready: the process's own state only (started and not draining), never a downstream's health.
readinessProbe:
{{- if $grpcPort }}
  grpc: { port: {{ $grpcPort }} }
{{- else }}
  httpGet: { path: /readyz, port: {{ $portPrefix }}{{ $spec.probePort }} }
{{- end }}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
volumeMounts:
  - { name: tmp, mountPath: /tmp }
{{- if $spec.snapshotServices }}
  - { name: routing, mountPath: /var/run/bulkhead }
{{- end }}
{{- end -}}

{{/* Every object of one instance. */}}
{{- define "bulkhead.instance" -}}
{{- $root := .root -}}
{{- $spec := index .facts.deployables .component -}}
{{- $settings := include "bulkhead.settings" . | fromJson -}}
{{- $name := include "bulkhead.instanceName" . -}}
{{- $public := or (eq $spec.kind "edge") (eq $spec.kind "control-plane") -}}
{{- $labels := dict "root" $root "component" .component "cell" .cell -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  labels:
    {{- include "bulkhead.labels" $labels | nindent 4 }}
# No Kubernetes API access: no token.
automountServiceAccountToken: false
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "bulkhead.labels" $labels | nindent 4 }}
spec:
  {{- if not $settings.autoscaling.enabled }}
  replicas: {{ $settings.replicas }}
  {{- end }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      {{- include "bulkhead.selectorLabels" $labels | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "bulkhead.labels" $labels | nindent 8 }}
      # prometheus.io/*: every container's port named ops serves /metrics (the chart's
      # Prometheus scrapes those; podAnnotations can set scrape to "false").
      annotations:
        {{- toYaml (merge (deepCopy ($settings.podAnnotations | default dict)) (dict "prometheus.io/scrape" "true" "prometheus.io/path" "/metrics")) | nindent 8 }}
    spec:
      serviceAccountName: {{ $name }}
      automountServiceAccountToken: false
      # Service links would put <SERVICE>_PORT=tcp://... variables into the environment.
      enableServiceLinks: false
      securityContext:
        {{- include "bulkhead.podSecurityContext" (dict "uid" 1000) | nindent 8 }}
      terminationGracePeriodSeconds: 30
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $spec.sidecar }}
      # Native sidecar: starts before the main container and runs beside it for the pod's life.
      initContainers:
        - {{- include "bulkhead.container" (dict "root" $root "facts" .facts "component" $spec.sidecar "cell" .cell) | nindent 10 }}
          restartPolicy: Always
      {{- end }}
      containers:
        - {{- include "bulkhead.container" . | nindent 10 }}
      volumes:
        - name: tmp
          emptyDir: { sizeLimit: 64Mi }
      {{- if $spec.snapshotServices }}
        # The routing snapshot: written by the config agent, read by the gateway.
        - name: routing
          emptyDir: { sizeLimit: 16Mi }
      {{- end }}
      {{- if $settings.topologySpread }}
      topologySpreadConstraints:
        {{- range list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
        - maxSkew: 1
          topologyKey: {{ . }}
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "bulkhead.selectorLabels" $labels | nindent 14 }}
        {{- end }}
      {{- end }}
      {{- with $settings.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $settings.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- $servicePorts := list -}}
{{- range $portName, $p := $spec.ports -}}
{{- if or (index $spec.callers $portName) (and $public (eq $portName "http")) (and (eq $spec.kind "cell-service") (eq $p.protocol "grpc")) -}}
{{- $servicePorts = append $servicePorts (dict "name" $portName "port" $p.port "protocol" $p.protocol) -}}
{{- end -}}
{{- end }}
{{- if $servicePorts }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels:
    {{- include "bulkhead.labels" $labels | nindent 4 }}
spec:
  type: {{ dig "service" "type" "ClusterIP" $settings }}
  selector:
    {{- include "bulkhead.selectorLabels" $labels | nindent 4 }}
  ports:
  {{- range $servicePorts }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      protocol: TCP
      appProtocol: {{ ternary "kubernetes.io/h2c" "http" (eq .protocol "grpc") }}
      {{- if and (eq (dig "service" "type" "ClusterIP" $settings) "NodePort") (dig "service" "nodePort" 0 $settings) (eq .name "http") }}
      nodePort: {{ dig "service" "nodePort" 0 $settings }}
      {{- end }}
  {{- end }}
{{- end }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  labels:
    {{- include "bulkhead.labels" $labels | nindent 4 }}
spec:
  maxUnavailable: {{ $settings.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "bulkhead.selectorLabels" $labels | nindent 6 }}
{{- if $settings.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  labels:
    {{- include "bulkhead.labels" $labels | nindent 4 }}
spec:
  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: {{ $name }} }
  minReplicas: {{ $settings.autoscaling.minReplicas }}
  maxReplicas: {{ $settings.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: { type: Utilization, averageUtilization: {{ $settings.autoscaling.targetCPUUtilizationPercentage }} }
{{- end }}
{{- if $root.Values.networkPolicy.enabled }}
{{- $rules := list -}}
{{- range $portName, $p := $spec.ports -}}
{{- if and $public (eq $portName "http") -}}
{{- $rules = append $rules (dict "port" $p.port "public" true "callers" list) -}}
{{- else if index $spec.callers $portName -}}
{{- $rules = append $rules (dict "port" $p.port "public" false "callers" (index $spec.callers $portName)) -}}
{{- end -}}
{{- end }}
{{- if $rules }}
---
# One allow per real caller (the manifest's calls); everything else is closed by default-deny.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $name }}
  labels:
    {{- include "bulkhead.labels" $labels | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "bulkhead.selectorLabels" $labels | nindent 6 }}
  policyTypes: [Ingress]
  ingress:
  {{- range $rules }}
    - ports:
        - { port: {{ .port }}, protocol: TCP }
      {{- if .public }}
      {{- with $root.Values.networkPolicy.publicFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- else }}
      from:
      {{- range .callers }}
        - podSelector:
            matchLabels:
              app.kubernetes.io/instance: {{ $root.Release.Name }}
              app.kubernetes.io/component: {{ . }}
      {{- end }}
      {{- end }}
  {{- end }}
{{- end }}
{{- end }}
{{- end -}}

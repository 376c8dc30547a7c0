/** The shape of one manifest entry. */

export type DeployableKind = 'edge' | 'control-plane' | 'sidecar' | 'cell-service';

export interface PortSpec {
  /** The default port (for a cell service: cell-1's). */
  readonly port: number;
  /** The variable the deployable reads its port from. */
  readonly env: string;
  /** The variable it reads the address to bind from (default 127.0.0.1; 0.0.0.0 in a pod). */
  readonly hostEnv: string;
  readonly protocol: 'http' | 'grpc';
}

/** A call from one deployable to another's port. */
export type CallSpec =
  /** The address is configuration: `env` holds host:port. */
  | { readonly to: string; readonly port: string; readonly env: string }
  /** The address comes from the routing snapshot (cell services, per tenant's cell). */
  | { readonly to: string; readonly port: string; readonly via: 'routing-snapshot' };

export interface DeployableSpec {
  readonly kind: DeployableKind;
  readonly description: string;
  /** Named ports; `probePort` serves GET /healthz and /readyz. */
  readonly ports: Readonly<Record<string, PortSpec>>;
  readonly probePort: string;
  readonly calls: readonly CallSpec[];
  /** Infrastructure it connects to. */
  readonly infra: readonly ('postgres' | 'kafka' | 'redis')[];
  /** A sidecar runs beside this deployable and shares a volume with it. */
  readonly sidecarOf?: string;
  /**
   * Cell services: the topics it owns (<cell>.<service>.<topic>) and the one it consumes (whose
   * dead-letter topic, <topic>.dead-letters, @bulkhead/cell adds to the cell's topics).
   */
  readonly topics?: readonly string[];
  readonly consumes?: string;
}

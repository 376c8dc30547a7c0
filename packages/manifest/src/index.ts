import { deployables } from './deployables.js';

export { deployables };
export type { CallSpec, DeployableKind, DeployableSpec, PortSpec } from './spec.js';

type Deployables = typeof deployables;
export type DeployableName = keyof Deployables;

/** The services every cell runs (kind cell-service), e.g. 'orders' | 'inventory' | 'payments'. */
export type CellService = {
  [K in DeployableName]: Deployables[K]['kind'] extends 'cell-service' ? K : never;
}[DeployableName];

/** The topics a cell service owns, e.g. CellServiceTopic<'orders'> = 'saga-replies' | 'events'. */
export type CellServiceTopic<S extends CellService> = Deployables[S] extends {
  topics: readonly (infer T)[];
}
  ? T
  : never;

/** The names of the deployables in start order. */
export const deployableNames = Object.keys(deployables) as DeployableName[];

/** The services of a cell, in start order. */
export const cellServices = deployableNames.filter(
  (name): name is CellService => deployables[name].kind === 'cell-service',
);

/** Port offset of cell n (1-based): cell n's ports are cell-1's plus 10 × (n − 1). */
export const CELL_PORT_STRIDE = 10;

import { cellTopic, type CellService } from '@bulkhead/cell';
import type {
  CellServiceApp,
  CellServiceDefinition,
  CellServiceOverrides,
} from '@bulkhead/cell-service';
import { Lifecycle } from '@bulkhead/service-runtime';
import { cellServiceEnv, createTestDatabase, testLogger } from '@bulkhead/testkit';
import { deleteCellTopics } from './kafka-admin.js';
import { startSagaDriver, type SagaDriver } from './saga-driver.js';

/** A started cell service on its own throwaway database and cell topics. */
export interface CellServiceUnderTest {
  readonly app: CellServiceApp;
  /** 127.0.0.1 and the app's gRPC port, for createGrpcClient. */
  readonly grpcAddress: string;
  /** Stops the app, deletes the cell's topics and drops the database. */
  stop(): Promise<void>;
}

/** The cell services that take saga commands on a `commands` topic of their own. */
export type ParticipantService = {
  [S in CellService]: 'commands' extends Parameters<typeof cellTopic<S>>[2] ? S : never;
}[CellService];

/** A started saga participant and the saga driver on its commands topic. */
export interface ParticipantUnderTest extends CellServiceUnderTest {
  readonly saga: SagaDriver;
}

/** Starts a cell service of this cell as its main would, on a throwaway database. */
export async function startCellService(
  cellId: string,
  definition: CellServiceDefinition,
  /** Extra environment variables, e.g. the service's own settings. */
  env: Record<string, string> = {},
  /** What the context would build otherwise, e.g. an event bus that injects a fault. */
  overrides: Omit<CellServiceOverrides, 'logger'> = {},
): Promise<CellServiceUnderTest> {
  const { service } = definition;
  const lifecycle = new Lifecycle(testLogger(`${service}-fixture`));
  try {
    const db = await lifecycle.open(
      'database',
      () => createTestDatabase(service),
      (d) => d.drop(),
    );
    lifecycle.defer('cell topics', () => deleteCellTopics(cellId)); // the app creates them on start
    const config = definition.loadConfig({ ...cellServiceEnv(cellId, db.name), ...env });
    const app = definition.createApp(config, { logger: testLogger(service), ...overrides });
    lifecycle.defer('app', () => app.stop());
    await app.start();
    return { app, grpcAddress: `127.0.0.1:${app.grpcPort}`, stop: () => lifecycle.close() };
  } catch (error) {
    await lifecycle.close(); // the start failure is the error worth reporting
    throw error;
  }
}

/** Starts a saga participant (startCellService) and a saga driver on its commands topic. */
export async function startParticipant(
  cellId: string,
  definition: CellServiceDefinition<ParticipantService>,
): Promise<ParticipantUnderTest> {
  const participant = await startCellService(cellId, definition);
  try {
    const saga = await startSagaDriver(cellId, cellTopic(cellId, definition.service, 'commands'));
    return {
      ...participant,
      saga,
      async stop() {
        await saga.close();
        await participant.stop();
      },
    };
  } catch (error) {
    await participant.stop().catch(() => undefined);
    throw error;
  }
}

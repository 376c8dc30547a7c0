import { cellTopic, type CellService } from '@bulkhead/cell';
import type { Logger } from '@bulkhead/logger';
import { cellServiceEnv, createTestDatabase, testLogger } from '@bulkhead/testkit';
import { deleteCellTopics } from './kafka-admin.js';
import { startSagaDriver, type SagaDriver } from './saga-driver.js';

/** What these helpers need of a cell service's app (every createXApp returns one). */
export interface StartableCellApp {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly grpcPort: number;
}

/** Which service of which cell to start, with its package's loadXConfig and createXApp. */
export type CellServiceArgs<S extends CellService, C, A extends StartableCellApp> = [
  cellId: string,
  service: S,
  loadConfig: (env: Record<string, string>) => C,
  create: (config: C, overrides: { logger: Logger }) => A,
];

/** A started cell service on its own throwaway database and cell topics. */
export interface CellServiceUnderTest<A extends StartableCellApp> {
  readonly app: A;
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
export interface ParticipantUnderTest<A extends StartableCellApp> extends CellServiceUnderTest<A> {
  readonly saga: SagaDriver;
}

/** Starts a cell service of this cell as its main would, on a throwaway database. */
export async function startCellService<C, A extends StartableCellApp>(
  ...[cellId, service, loadConfig, create]: CellServiceArgs<CellService, C, A>
): Promise<CellServiceUnderTest<A>> {
  const undo: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const step of undo.splice(0).reverse()) await step();
  };
  try {
    const db = await createTestDatabase(service);
    undo.push(() => db.drop());
    undo.push(() => deleteCellTopics(cellId)); // the app creates them on start
    const app = create(loadConfig(cellServiceEnv(cellId, db.name)), {
      logger: testLogger(service),
    });
    undo.push(() => app.stop());
    await app.start();
    return { app, grpcAddress: `127.0.0.1:${app.grpcPort}`, stop };
  } catch (error) {
    await stop().catch(() => undefined); // the start failure is the error worth reporting
    throw error;
  }
}

/** Starts a saga participant (startCellService) and a saga driver on its commands topic. */
export async function startParticipant<C, A extends StartableCellApp>(
  ...args: CellServiceArgs<ParticipantService, C, A>
): Promise<ParticipantUnderTest<A>> {
  const [cellId, service] = args;
  const participant = await startCellService(...args);
  try {
    const saga = await startSagaDriver(cellId, cellTopic(cellId, service, 'commands'));
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

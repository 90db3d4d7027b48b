import {
  LeaderElector,
  LeaseLock,
  silentLogger,
  type MappingStatus,
  type ResourceLock,
} from "@imagepullsecret-patcher/core";
import { startController, type ControllerOptions, type RunningController } from "./controller.js";

export const DEFAULT_LEASE_NAME = "example-embedded-controller";

export interface LeaderElectionOptions {
  /** Namespace of the Lease (in a Pod, its own namespace). */
  readonly namespace: string;
  /** Name of the Lease; replicas that share it elect one leader. Default {@link DEFAULT_LEASE_NAME}. */
  readonly name?: string | undefined;
  /** This replica's name in the Lease. Default `<hostname>_<8 random hex>`; in a Pod, pass its name. */
  readonly identity?: string | undefined;
  /** Defaults as client-go: 15 s, 10 s, 2 s. */
  readonly leaseDurationMs?: number | undefined;
  readonly renewDeadlineMs?: number | undefined;
  readonly retryPeriodMs?: number | undefined;
  /** Where the election record lives instead of the Lease (tests: core's InMemoryLock). */
  readonly lock?: ResourceLock | undefined;
}

export interface ElectedControllerOptions extends Omit<ControllerOptions, "canWrite"> {
  readonly leaderElection: LeaderElectionOptions;
}

export interface ElectedController {
  readonly elector: LeaderElector;
  /** The controller of the current leadership term; undefined while this replica follows. */
  current(): RunningController | undefined;
  /** The current term's per-mapping counts; empty while following. */
  status(): MappingStatus[];
  /** Resolves once the signal aborted, the engine stopped and the Lease was released; rejects if the engine failed. */
  readonly done: Promise<void>;
}

/**
 * High availability: run several replicas with the same Lease; only the one holding it runs the
 * engine. Each leadership term starts a fresh controller whose signal is the term's: when the Lease
 * is lost the engine stops, and from that moment no write is sent (`canWrite`). Another replica takes
 * over once the Lease expires, or at once when the leader shuts down and releases it.
 */
export function startElectedController(options: ElectedControllerOptions): ElectedController {
  const logger = options.logger ?? silentLogger;
  const election = options.leaderElection;
  const lock =
    election.lock ??
    new LeaseLock({
      kubeConfig: options.kubeConfig,
      namespace: election.namespace,
      name: election.name ?? DEFAULT_LEASE_NAME,
    });
  const elector = new LeaderElector({
    lock,
    identity: election.identity,
    leaseDurationMs: election.leaseDurationMs,
    renewDeadlineMs: election.renewDeadlineMs,
    retryPeriodMs: election.retryPeriodMs,
    logger: logger.child({ component: "leader-election" }),
  });
  let current: RunningController | undefined;
  const done = elector.run(options.signal, {
    onStartedLeading: async (leaderSignal) => {
      logger.info({ identity: elector.identity }, "leading: starting the engine");
      const running = await startController({ ...options, signal: leaderSignal, canWrite: () => elector.isLeader });
      current = running;
      try {
        await running.done;
      } finally {
        current = undefined;
      }
    },
    onStoppedLeading: () => logger.info({ identity: elector.identity }, "stopped leading; stopping the engine"),
  });
  return { elector, current: () => current, status: () => current?.status() ?? [], done };
}

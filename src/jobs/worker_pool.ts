/**
 * Lanes for the folder jobs: `--jobs N` handles N dumps at once, one in the
 * job's own thread and the others each in a Web Worker running a
 * {@link DumpTaskLane} (dump_worker.ts).
 *
 * Read me first:
 * - Why the job's thread is a lane too: a worker costs the thread 10-20 ms to
 *   create and takes 40-60 ms to load its modules (and its JIT starts cold),
 *   which is the whole run of a small folder. The thread's own lane starts at
 *   once; the workers are started only when the work left, judged from the
 *   thread's pace so far, exceeds {@link WORKER_WORTH_MS}, and each joins when it
 *   has loaded. So `--jobs 2` is not slower than `--jobs 1` on small folders.
 *   Between two batches the thread's lane yields to the event loop (a message on
 *   a `MessageChannel`, which timers' clamping does not slow), so that workers'
 *   replies are taken and they are given more work.
 * - Protocol: a worker posts `{ ready: true }` once loaded, then answers each
 *   `{ id, task }` with `{ id, reply }`, in the order posted. Set-up tasks go to
 *   every lane and are remembered, so that a worker started later (to replace one
 *   that died) is set up the same way before it gets work.
 * - Dispatch: a worker gets tasks once it has loaded, at most
 *   {@link TASKS_PER_WORKER} in flight, so that it starts its next dump while the
 *   job reads the reply of the last one; the thread's lane takes the rest, one at
 *   a time. The job gets replies in completion order and keeps its own order by
 *   index.
 * - A worker that dies (an error event: a bug, or memory exhausted) is replaced,
 *   and the tasks it had run again, each alone on a worker; a task that kills a
 *   worker alone is answered `{ kind: "lost", reason }`, and `forEach` then runs
 *   its dumps one per task, so that only the dump at fault is reported failed.
 * - With one job, or where the worker module cannot be found (a `deno bundle` file
 *   carries no worker module next to it), or when no worker loads, the thread's
 *   lane does everything. The output is the same either way; only the speed
 *   differs. Executables built by `deno compile` include the worker module
 *   (`--include`, see scripts/entry_points.ts).
 *
 * @module
 */

import { fromFileUrl } from "@std/path";
import { isFileSync } from "../dump/folder_info.ts";
import {
  type DoneReply,
  type DumpResult,
  type DumpTask,
  DumpTaskLane,
  type DumpTaskReply,
  type LostReply,
} from "./dump_tasks.ts";

/**
 * Tasks a worker may have in flight: one running and the next ones waiting, so
 * that it does not idle while the job's thread is busy with a dump of its own.
 */
const TASKS_PER_WORKER = 3;

/**
 * Work left, in milliseconds of the thread's lane, above which workers are
 * started. A worker costs the thread 10-20 ms to create and takes 40-60 ms to
 * load its modules before its first dump (measured here); below this, a job
 * ends sooner without.
 */
const WORKER_WORTH_MS = 200;

/**
 * Milliseconds of work after which the thread's pace is judged: before, the JIT
 * has not compiled the coders yet and the first dumps look several times slower.
 */
const PACE_AFTER_MS = 25;

/**
 * Dumps at and above which a job starts its workers as soon as it knows their
 * number ({@link LaneRunner.expectWork}), without waiting to judge the pace:
 * the smallest dumps (one token) take about 0.5 ms each here, so this many
 * are worth more than {@link WORKER_WORTH_MS}.
 */
const EXPECTED_WORK_WORTH = 400;

/** Workers started to replace ones that died, at most, before the rest runs in-process. */
const MAX_REPLACEMENTS = 8;

/** The default worker module. */
const WORKER_MODULE = new URL("./dump_worker.ts", import.meta.url);

/** How {@link LaneRunner.forEach} groups items into tasks. */
export interface Batching<T> {
  /** The task of a batch of items. */
  readonly taskOf: (batch: readonly T[]) => DumpTask;
  /** Most items in one task. */
  readonly maxItems: number;
  /** Weight of an item (its bytes, say); a batch stops growing at `maxWeight`. */
  readonly weightOf?: (item: T) => number;
  /** Weight at which a batch is full. */
  readonly maxWeight?: number;
  /** Called with each completed task's reply, before its items' results. */
  readonly onDone?: (reply: DoneReply) => void;
}

/** How a runner is opened. */
export interface LaneRunnerOptions {
  /** Lanes wanted (`--jobs`): the job's thread and `jobs - 1` workers. */
  readonly jobs: number;
  /** The worker module; dump_worker.ts when omitted (tests give their own). */
  readonly workerModule?: URL;
  /**
   * Whether the job's thread handles dumps too (default true). With false it
   * only hands them to the workers, when there are any: tests use it to make
   * sure that workers wrote what they check.
   */
  readonly threadLane?: boolean;
}

interface Pending {
  readonly task: DumpTask;
  readonly resolve: (reply: DumpTaskReply) => void;
  readonly reject: (error: unknown) => void;
  /** Answer nobody waits for (a set-up replayed on a replacement worker). */
  readonly replay?: boolean;
  /** In flight on a worker that died: runs again alone on a worker. */
  suspect?: boolean;
}

interface WorkerLane {
  readonly worker: Worker;
  ready: boolean;
  dead: boolean;
  /** Posted tasks by id, in the order posted. */
  readonly inFlight: Map<number, Pending>;
}

/**
 * The default number of jobs: one per logical CPU.
 *
 * @returns `navigator.hardwareConcurrency`, at least 1.
 *
 * @example
 * ```ts
 * import { defaultJobs } from "./worker_pool.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(defaultJobs() >= 1, true);
 * ```
 */
export function defaultJobs(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

function moduleAvailable(url: URL): boolean {
  return url.protocol !== "file:" || isFileSync(fromFileUrl(url));
}

/**
 * Runs dump tasks on `jobs` lanes: the job's thread and `jobs - 1` workers. Open
 * one per job, set it up, run the dumps, close it.
 *
 * @example Counting two fixture dumps on two lanes
 * ```ts
 * import { LaneRunner } from "./worker_pool.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const dumpDir = new URL("../../fixtures/kv-sample", import.meta.url).pathname;
 * const paths = ["llama6L-kjv-ruth/layer_0/meta_t0_128.json", "llama6L-kjv-ruth/layer_0/meta_t128_256.json"];
 * const runner = new LaneRunner({ jobs: 2 });
 * try {
 *   await runner.setUp({ kind: "encode-setup", codec: "huffman", dumpDir, outDir: "unused", overwrite: false, codebook: "global", durable: false });
 *   let bytes = 0;
 *   await runner.forEach(paths, {
 *     taskOf: (batch) => ({
 *       kind: "count",
 *       dumps: batch.map((relativePath) => ({
 *         relativePath,
 *         metaText: Deno.readTextFileSync(`${dumpDir}/${relativePath}`),
 *       })),
 *     }),
 *     maxItems: 1,
 *   }, (_, result) => {
 *     if (result.kind === "counted") bytes += result.bytes;
 *   });
 *   assertEquals(bytes, 2 * 65536);
 * } finally {
 *   runner.close();
 * }
 * ```
 */
export class LaneRunner {
  readonly #module: URL;
  readonly #workers: WorkerLane[] = [];
  readonly #queue: Pending[] = [];
  readonly #setUps: DumpTask[] = [];
  readonly #local = new DumpTaskLane();
  readonly #threadLane: boolean;
  readonly #jobs: number;
  /** Workers are wanted and not started yet. */
  #mayStart: boolean;
  #localBusy = false;
  /** Lets the thread's lane yield to the event loop between dumps (only with workers). */
  #channel?: MessageChannel;
  #wake?: () => void;
  #nextId = 1;
  #replacements = 0;
  #closed = false;

  /**
   * Prepares `jobs` lanes. The `jobs - 1` workers (none for one job, or when
   * the worker module is missing) start when a job proves long enough.
   *
   * @param options Jobs wanted, the worker module, and whether the thread works.
   */
  constructor(options: LaneRunnerOptions) {
    this.#module = options.workerModule ?? WORKER_MODULE;
    this.#threadLane = options.threadLane ?? true;
    this.#jobs = Math.max(1, Math.floor(options.jobs));
    this.#mayStart = this.#jobs > 1 && moduleAvailable(this.#module);
    // Without the thread's lane there is nothing to wait for.
    if (!this.#threadLane) this.#startWorkers();
  }

  /**
   * Starts the workers, once: when a job turns out long enough to gain from
   * them (see `forEach`), or at once when the thread's lane is off.
   */
  #startWorkers(): void {
    if (!this.#mayStart || this.#closed) return;
    this.#mayStart = false;
    for (let i = 1; i < this.#jobs; i++) this.#startWorker();
    if (this.#workers.length > 0) {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => this.#wake?.();
      this.#channel = channel;
    }
  }

  /**
   * Tells the runner how many dumps are coming, before the job reads any: with
   * enough of them to need the workers whatever their size, the workers start
   * now and load while the job's thread prepares the work, instead of after
   * the first batches.
   *
   * @param dumps Dumps the job will hand to the lanes.
   */
  expectWork(dumps: number): void {
    if (dumps >= EXPECTED_WORK_WORTH) this.#startWorkers();
  }

  /** Lanes working: the job's thread and the workers alive. */
  get lanes(): number {
    return 1 + this.#workers.filter((lane) => !lane.dead).length;
  }

  /** Workers alive (loaded or loading). */
  get workers(): number {
    return this.lanes - 1;
  }

  /**
   * Sets every lane up with a task, and remembers it for workers started later.
   * Workers take it before any dump given after it; only the thread's lane is
   * waited for.
   *
   * @param task A set-up task.
   */
  async setUp(task: DumpTask): Promise<void> {
    this.#setUps.push(task);
    for (const lane of this.#workers) {
      if (!lane.dead) this.#post(lane, replayOf(task));
    }
    await this.#local.run(task);
  }

  /**
   * Runs items on the lanes in batches (one task per batch, so that a message
   * carries more than a few hundred microseconds of work) and calls `onResult`
   * for each item as its batch finishes. Only a few batches per lane are in
   * flight at a time, so tasks are made as they are needed. When a worker dies
   * during a batch, the batch's items run again one per task, so that only the
   * item at fault gets a `lost` result.
   *
   * @param items The items, e.g. the selected dumps.
   * @param batching How items are grouped into tasks.
   * @param onResult Called with each item, its result and its index.
   */
  forEach<T>(
    items: readonly T[],
    batching: Batching<T>,
    onResult: (item: T, result: DumpResult | LostReply, index: number) => void,
  ): Promise<void> {
    const { taskOf, maxItems } = batching;
    const weightOf = batching.weightOf ?? (() => 0);
    const maxWeight = batching.maxWeight ?? Infinity;
    return new Promise((resolve, reject) => {
      let next = 0;
      let finished = 0;
      let inFlight = 0;
      let failed = false;
      const retries: number[][] = [];
      const nextBatch = (): number[] | undefined => {
        if (retries.length > 0) return retries.shift();
        if (next >= items.length) return undefined;
        const batch = [next];
        let weight = weightOf(items[next++]);
        while (
          next < items.length && batch.length < maxItems && weight < maxWeight
        ) {
          weight += weightOf(items[next]);
          batch.push(next++);
        }
        return batch;
      };
      const started = performance.now();
      const settle = (index: number, result: DumpResult | LostReply) => {
        finished++;
        onResult(items[index], result, index);
      };
      // Workers are started once the thread's lane has shown that the rest
      // will take long enough for them to pay off (see WORKER_WORTH_MS).
      const considerWorkers = () => {
        if (!this.#mayStart || finished === 0) return;
        const elapsed = performance.now() - started;
        // The first dumps run while the JIT warms up: judge the pace later.
        if (elapsed < PACE_AFTER_MS) return;
        const left = elapsed * (items.length - finished) / finished;
        if (left > WORKER_WORTH_MS) this.#startWorkers();
      };
      const pump = () => {
        const limit = 2 + TASKS_PER_WORKER * this.workers;
        while (!failed && inFlight < limit) {
          const batch = nextBatch();
          if (!batch) break;
          inFlight++;
          this.#submit(taskOf(batch.map((index) => items[index])))
            .then((reply) => {
              inFlight--;
              if (reply.kind === "done") {
                batching.onDone?.(reply);
                batch.forEach((index, k) => settle(index, reply.results[k]));
              } else if (reply.kind === "lost" && batch.length > 1) {
                retries.push(...batch.map((index) => [index]));
              } else {
                const lost: LostReply = reply.kind === "lost"
                  ? reply
                  : { kind: "lost", reason: `unexpected reply ${reply.kind}` };
                for (const index of batch) settle(index, lost);
              }
              if (finished === items.length) {
                resolve();
              } else {
                considerWorkers();
                pump();
              }
            })
            .catch((error) => {
              failed = true;
              reject(error);
            });
        }
      };
      if (items.length === 0) resolve();
      else pump();
    });
  }

  /** Stops every worker. */
  close(): void {
    this.#closed = true;
    for (const lane of this.#workers) {
      lane.dead = true;
      lane.worker.terminate();
    }
    this.#channel?.port1.close();
    this.#channel?.port2.close();
  }

  #submit(task: DumpTask): Promise<DumpTaskReply> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ task, resolve, reject });
      this.#dispatch();
    });
  }

  /**
   * Gives queued tasks to loaded workers with room (a suspect only to a worker
   * with nothing else to do, and nothing after it), then to the thread's lane.
   */
  #dispatch(): void {
    for (let i = 0; i < this.#queue.length;) {
      const pending = this.#queue[i];
      const lane = pending.suspect ? this.#idleWorker() : this.#roomyWorker();
      if (lane) {
        this.#queue.splice(i, 1);
        this.#post(lane, pending);
      } else if (pending.suspect) {
        i++;
      } else {
        break;
      }
    }
    if (
      this.#queue.length > 0 &&
      (this.#threadLane || this.#workers.every((lane) => lane.dead))
    ) {
      this.#runLocal();
    }
  }

  /** The loaded worker with the fewest tasks, if one has room and runs no suspect. */
  #roomyWorker(): WorkerLane | undefined {
    let best: WorkerLane | undefined;
    for (const lane of this.#workers) {
      if (lane.dead || !lane.ready) continue;
      const tasks = [...lane.inFlight.values()].filter((p) => !p.replay);
      if (
        tasks.length >= TASKS_PER_WORKER || tasks.some((p) => p.suspect)
      ) continue;
      if (!best || lane.inFlight.size < best.inFlight.size) best = lane;
    }
    return best;
  }

  /** A loaded worker with no task in flight. */
  #idleWorker(): WorkerLane | undefined {
    return this.#workers.find((lane) =>
      !lane.dead && lane.ready &&
      [...lane.inFlight.values()].every((pending) => pending.replay)
    );
  }

  async #runLocal(): Promise<void> {
    if (this.#localBusy) return;
    this.#localBusy = true;
    try {
      for (;;) {
        // Suspects stay for the workers (one may crash what it touches) while
        // any is alive.
        const workersAlive = this.#workers.some((lane) => !lane.dead);
        const index = workersAlive
          ? this.#queue.findIndex((pending) => !pending.suspect)
          : (this.#queue.length > 0 ? 0 : -1);
        if (index < 0) break;
        const [pending] = this.#queue.splice(index, 1);
        try {
          pending.resolve(await this.#local.run(pending.task));
        } catch (error) {
          pending.resolve({ kind: "lost", reason: reasonOf(error) });
        }
        if (this.#channel && !this.#closed) {
          // Let workers' replies in, and give them more work, before the next batch.
          await new Promise<void>((resolve) => {
            this.#wake = resolve;
            this.#channel!.port2.postMessage(null);
          });
          this.#dispatch();
        }
      }
    } finally {
      this.#localBusy = false;
    }
  }

  #post(lane: WorkerLane, pending: Pending): void {
    const id = this.#nextId++;
    lane.inFlight.set(id, pending);
    lane.worker.postMessage({ id, task: pending.task });
  }

  #startWorker(): void {
    let worker: Worker;
    try {
      worker = new Worker(this.#module, {
        type: "module",
        name: `kvbits lane ${this.#workers.length + 2}`,
      });
    } catch {
      return;
    }
    const lane: WorkerLane = {
      worker,
      ready: false,
      dead: false,
      inFlight: new Map(),
    };
    this.#workers.push(lane);
    worker.onmessage = (event: MessageEvent) => this.#onMessage(lane, event);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#onDeath(lane, event.message);
    };
    worker.onmessageerror = () =>
      this.#onDeath(lane, "a reply could not be read");
    for (const task of this.#setUps) this.#post(lane, replayOf(task));
  }

  #onMessage(lane: WorkerLane, event: MessageEvent): void {
    const data = event.data as {
      ready?: true;
      id?: number;
      reply?: DumpTaskReply;
    };
    if (data.ready) {
      lane.ready = true;
    } else {
      const pending = lane.inFlight.get(data.id!);
      if (!pending) return;
      lane.inFlight.delete(data.id!);
      pending.resolve(data.reply!);
    }
    this.#dispatch();
  }

  #onDeath(lane: WorkerLane, message: string): void {
    if (lane.dead) return;
    lane.dead = true;
    lane.worker.terminate();
    // Set-ups replayed on it are nobody's business; its tasks are. Which one it
    // was running cannot be told for sure (its last reply may still be on the
    // way), so each runs again alone on a worker: one that kills a worker alone
    // is the one at fault, and is lost.
    const tasks = [...lane.inFlight.values()].filter((pending) =>
      !pending.replay
    );
    lane.inFlight.clear();
    if (tasks.length === 1 && tasks[0].suspect) {
      tasks[0].resolve({
        kind: "lost",
        reason: `a worker stopped while handling it: ${oneLine(message)}`,
      });
    } else {
      for (const pending of tasks) pending.suspect = true;
      this.#queue.unshift(...tasks);
    }
    if (!this.#closed && lane.ready && this.#replacements < MAX_REPLACEMENTS) {
      this.#replacements++;
      this.#startWorker();
    }
    this.#dispatch();
  }
}

/** A set-up posted to a worker: its answer is not waited for. */
function replayOf(task: DumpTask): Pending {
  return { task, resolve: () => {}, reject: () => {}, replay: true };
}

function oneLine(text: string): string {
  return text.split("\n")[0].trim() || "no message";
}

function reasonOf(error: unknown): string {
  return oneLine(
    error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  );
}

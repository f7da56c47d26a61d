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
 * - Dispatch: lanes pull their tasks. A worker takes tasks once it has loaded,
 *   at most {@link TASKS_PER_WORKER} in flight, so that it starts its next dump
 *   while the job reads the reply of the last one; the thread's lane takes one
 *   at a time. Each lane works through a run of consecutive items of its own
 *   (the first half of what nobody has taken, or half of the longest run left
 *   when nothing is), so that two lanes seldom write into one folder at once,
 *   and one lane alone goes in path order. An item may name the lane it would
 *   rather run on ({@link Batching.laneOf}): the lane that read its dump in an
 *   earlier pass keeps its tensors, and need not read them again. The job gets
 *   replies in completion order and keeps its own order by index.
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

import { fromFileUrl } from "../dump/path.ts";
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
  /**
   * The lane an item should run on, when one is better placed than the others
   * (the lane it ran on in an earlier `forEach`, given to `onResult`): it goes
   * there unless that lane is gone or another runs out of work first. Not
   * asked while no worker runs: one lane takes the items in order.
   */
  readonly laneOf?: (item: T) => number | undefined;
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
  /** The lane it was given to last. */
  lane?: number;
}

/** Gives lanes the tasks of the running `forEach`, as they have room. */
interface TaskSource {
  /** The next task for lane `lane`, if there is work left for it. */
  next(lane: number): Pending | undefined;
}

/** The thread's lane, in {@link Batching.laneOf} and `onResult`. */
const THREAD_LANE = 0;

interface WorkerLane {
  /** The lane's number: 1 for the first worker started, and so on. */
  readonly id: number;
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
  /** Tasks of workers that died, waiting to run again alone on a worker. */
  readonly #queue: Pending[] = [];
  /** The running `forEach`'s tasks. */
  #source?: TaskSource;
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
   * for each item as its batch finishes. Lanes take batches as they have room,
   * each from a run of consecutive items of its own (see the module's notes),
   * so tasks are made as they are needed. When a worker dies during a batch,
   * the batch's items run again one per task, so that only the item at fault
   * gets a `lost` result. One `forEach` at a time.
   *
   * @param items The items, e.g. the selected dumps.
   * @param batching How items are grouped into tasks, and where they go.
   * @param onResult Called with each item, its result, its index and the lane
   * that handled it ({@link Batching.laneOf} of a later pass may name it).
   */
  forEach<T>(
    items: readonly T[],
    batching: Batching<T>,
    onResult: (
      item: T,
      result: DumpResult | LostReply,
      index: number,
      lane: number,
    ) => void,
  ): Promise<void> {
    const { taskOf, maxItems } = batching;
    const weightOf = batching.weightOf ?? (() => 0);
    const maxWeight = batching.maxWeight ?? Infinity;
    return new Promise((resolve, reject) => {
      let finished = 0;
      let failed = false;
      // With one lane working, no preference: it goes through the items in
      // order (the crash tests count the writes of --jobs 1 in path order).
      const laneOf = this.#workers.some((lane) => !lane.dead)
        ? batching.laneOf
        : undefined;
      const runs = new ItemRuns(
        items.length,
        (index) => this.#alive(laneOf?.(items[index])),
      );
      const retries: number[][] = [];
      const batchFor = (lane: number): number[] | undefined => {
        if (retries.length > 0) return retries.shift();
        let next = runs.claim(lane);
        if (next === undefined) return undefined;
        const batch: number[] = [];
        let weight = 0;
        do {
          batch.push(runs.take(lane));
          weight += weightOf(items[next]);
          next = runs.peek(lane);
        } while (
          next !== undefined && batch.length < maxItems && weight < maxWeight
        );
        return batch;
      };
      const started = performance.now();
      const settle = (
        index: number,
        result: DumpResult | LostReply,
        lane: number,
      ) => {
        finished++;
        onResult(items[index], result, index, lane);
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
      const finish = (error?: unknown) => {
        if (this.#source === source) this.#source = undefined;
        if (error === undefined) resolve();
        else reject(error);
      };
      const source: TaskSource = {
        next: (lane) => {
          if (failed) return undefined;
          const batch = batchFor(lane);
          if (!batch) return undefined;
          const pending: Pending = {
            task: taskOf(batch.map((index) => items[index])),
            resolve: (reply) => {
              const ranOn = pending.lane ?? THREAD_LANE;
              if (reply.kind === "done") {
                batching.onDone?.(reply);
                batch.forEach((index, k) =>
                  settle(index, reply.results[k], ranOn)
                );
              } else if (reply.kind === "lost" && batch.length > 1) {
                retries.push(...batch.map((index) => [index]));
              } else {
                const lost: LostReply = reply.kind === "lost"
                  ? reply
                  : { kind: "lost", reason: `unexpected reply ${reply.kind}` };
                for (const index of batch) settle(index, lost, ranOn);
              }
              if (finished === items.length) {
                finish();
              } else {
                considerWorkers();
                this.#dispatch();
              }
            },
            reject: (error) => {
              failed = true;
              finish(error);
            },
          };
          return pending;
        },
      };
      if (items.length === 0) {
        resolve();
        return;
      }
      this.#source = source;
      this.#dispatch();
    });
  }

  /** `lane` when it names a lane that can still take work, else undefined. */
  #alive(lane: number | undefined): number | undefined {
    if (lane === undefined) return undefined;
    if (lane === THREAD_LANE) return this.#threadLane ? lane : undefined;
    const worker = this.#workers[lane - 1];
    return worker && !worker.dead ? lane : undefined;
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

  /**
   * Gives the tasks of workers that died to idle workers, one each, then lets
   * each loaded worker with room pull tasks, then the thread's lane.
   */
  #dispatch(): void {
    while (this.#queue.length > 0) {
      const lane = this.#idleWorker();
      if (!lane) break;
      this.#post(lane, this.#queue.shift()!);
    }
    for (const lane of this.#workers) {
      if (lane.dead || !lane.ready) continue;
      for (;;) {
        const tasks = [...lane.inFlight.values()].filter((p) => !p.replay);
        if (
          tasks.length >= TASKS_PER_WORKER || tasks.some((p) => p.suspect)
        ) break;
        const pending = this.#source?.next(lane.id);
        if (!pending) break;
        this.#post(lane, pending);
      }
    }
    if (this.#threadLane || this.#workers.every((lane) => lane.dead)) {
      this.#runLocal();
    }
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
        // Tasks of dead workers stay for the workers (one may crash what it
        // touches) while any is alive.
        const workersAlive = this.#workers.some((lane) => !lane.dead);
        const pending = !workersAlive && this.#queue.length > 0
          ? this.#queue.shift()
          : (this.#threadLane || !workersAlive)
          ? this.#source?.next(THREAD_LANE)
          : undefined;
        if (!pending) break;
        pending.lane = THREAD_LANE;
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
    if (!pending.replay) pending.lane = lane.id;
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
      id: this.#workers.length + 1,
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

/** Items nobody has taken yet, in {@link ItemRuns}. */
const NO_LANE = -1;

/**
 * The items of a `forEach` not yet handed out, as runs: one per lane (the
 * items it will handle next, consecutive as far as possible) and one of items
 * nobody has taken. A lane whose run is over takes the first half of the
 * untaken items, or when there are none, the second half of the longest run
 * left. One lane alone thus goes through the items in order.
 */
class ItemRuns {
  readonly #runs = new Map<number, { indices: number[]; head: number }>();

  /**
   * @param count Items, numbered from 0.
   * @param laneOf The lane an item starts in, or undefined for none.
   */
  constructor(count: number, laneOf: (index: number) => number | undefined) {
    for (let index = 0; index < count; index++) {
      const lane = laneOf(index) ?? NO_LANE;
      let run = this.#runs.get(lane);
      if (!run) this.#runs.set(lane, run = { indices: [], head: 0 });
      run.indices.push(index);
    }
  }

  /**
   * The next item of `lane`'s run (not taken yet), giving the lane a new run
   * when its own is over; undefined when no item is left anywhere.
   */
  claim(lane: number): number | undefined {
    const own = this.peek(lane);
    if (own !== undefined) return own;
    const untaken = this.#runs.get(NO_LANE);
    let indices: number[] | undefined;
    if (untaken && untaken.head < untaken.indices.length) {
      const half = Math.ceil((untaken.indices.length - untaken.head) / 2);
      indices = untaken.indices.slice(untaken.head, untaken.head + half);
      untaken.head += half;
    } else {
      let longest: { indices: number[]; head: number } | undefined;
      let most = 0;
      for (const run of this.#runs.values()) {
        if (run.indices.length - run.head > most) {
          longest = run;
          most = run.indices.length - run.head;
        }
      }
      if (!longest) return undefined;
      indices = longest.indices.splice(
        longest.indices.length - Math.ceil(most / 2),
      );
    }
    this.#runs.set(lane, { indices, head: 0 });
    return indices[0];
  }

  /** The next item of `lane`'s run, or undefined at its end. */
  peek(lane: number): number | undefined {
    const run = this.#runs.get(lane);
    return run && run.head < run.indices.length
      ? run.indices[run.head]
      : undefined;
  }

  /** Takes the next item of `lane`'s run (call {@link peek} or {@link claim} first). */
  take(lane: number): number {
    const run = this.#runs.get(lane)!;
    return run.indices[run.head++];
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

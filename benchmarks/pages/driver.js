// The benchmark's side inside the page, the same for every SDK. A page sets `window.sdk`:
//   { name, eventPath: RegExp (its event requests), ready: Promise (SDK usable),
//     track(i) (one tracking call, as a click handler would make it), first(): Promise
//     (one event sent as soon as the SDK allows) }
// and bench.py calls the phases below through page.evaluate.
performance.setResourceTimingBufferSize(100000);

const now = () => performance.now();

// Resolves after the current task and every microtask it queued have run: a block of calls is
// timed up to here, so promise work an SDK starts in a call (Segment's pipeline) is counted.
function afterMicrotasks() {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve(now());
    channel.port2.postMessage(0);
  });
}

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

// The longest gap between two turns of a MessageChannel ping-pong: the longest main-thread
// task (with its microtasks) that ran meanwhile.
function heartbeat() {
  const channel = new MessageChannel();
  let last = now();
  let longest = 0;
  let running = true;
  channel.port1.onmessage = () => {
    const t = now();
    longest = Math.max(longest, t - last);
    last = t;
    if (running) channel.port2.postMessage(0);
  };
  channel.port2.postMessage(0);
  return () => {
    running = false;
    return longest;
  };
}

function eventRequests() {
  return performance
    .getEntriesByType("resource")
    .filter((entry) => sdk.eventPath.test(new URL(entry.name).pathname));
}

// Waits until `count` more event requests than `before` have been answered.
async function answered(before, count = 1, timeoutMs = 30000) {
  const deadline = now() + timeoutMs;
  for (;;) {
    const done = eventRequests().slice(before).filter((entry) => entry.responseEnd > 0);
    if (done.length >= count) return done;
    if (now() > deadline) throw new Error(`${sdk.name}: no answer to its event request`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

window.bench = {
  async ready() {
    await sdk.ready;
    return { readyAt: sdk.readyAt ?? now(), importMs: sdk.importMs ?? null,
             isolated: self.crossOriginIsolated };
  },

  // The first event, sent as soon as the SDK allows: when was it acknowledged?
  async firstEvent() {
    const before = eventRequests().length;
    const started = now();
    await sdk.first();
    const [entry] = await answered(before);
    return { calledAt: started, ackAt: entry.responseEnd };
  },

  // 100 events, then the longest main-thread task until their request was answered.
  async flushBlock(events = 100) {
    const before = eventRequests().length;
    for (let i = 0; i < events; i++) sdk.track(i);
    await afterMicrotasks();
    const stop = heartbeat();
    await answered(before);
    await nextTask();
    return stop();
  },

  // `blocks` blocks of `size` calls, each timed up to the end of its microtasks; then the same
  // for an empty handler (the baseline). Per-call figures in µs.
  async calls(blocks = 100, size = 100) {
    const timeBlock = async (fn) => {
      const t0 = now();
      for (let i = 0; i < size; i++) fn(i);
      const t1 = await afterMicrotasks();
      return ((t1 - t0) * 1000) / size;
    };
    const empty = () => {};
    const baseline = [];
    for (let b = 0; b < 20; b++) {
      baseline.push(await timeBlock(empty));
      await nextTask();
    }
    const perCall = [];
    for (let b = 0; b < blocks; b++) {
      perCall.push(await timeBlock(sdk.track));
      await nextTask(); // a page's handlers run in separate tasks: let the SDK's timers run
    }
    return { perCall, baseline };
  },

  // Wait for the events still queued to be sent (the SDK's own timers or flush).
  async drain(expected, timeoutMs = 60000) {
    if (sdk.flush) await sdk.flush();
    const deadline = now() + timeoutMs;
    while (sdk.pending && sdk.pending() > 0 && now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  },

  sdkFiles() {
    return performance
      .getEntriesByType("resource")
      .map((entry) => new URL(entry.name))
      .filter((url) => url.origin === location.origin && sdk.files.test(url.pathname))
      .map((url) => url.pathname);
  },
};

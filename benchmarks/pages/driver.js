// The benchmark's side inside the page, the same for every SDK. A page sets `window.sdk`:
//   { name, eventPath: RegExp (its event requests), ready: Promise (SDK usable),
//     track(i) (one tracking call, as a click handler would make it), first(): Promise
//     (one event sent as soon as the SDK allows) }
// and bench.py calls the phases below through page.evaluate.
performance.setResourceTimingBufferSize(100000);

const now = () => performance.now();

// Resolves after the current task and every microtask it queued have run: a flush window starts
// here, after the promise work an SDK started in the calls (Segment's pipeline).
function afterMicrotasks() {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve(now());
    channel.port2.postMessage(0);
  });
}

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

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

  // 100 events, then wait until their request was answered. The window from the last call's
  // microtasks to the answer is marked (User Timing) for bench.py, which reads the longest
  // main-thread task inside it from a Chromium trace.
  async flushBlock(events = 100, label = "flush") {
    const before = eventRequests().length;
    for (let i = 0; i < events; i++) sdk.track(i);
    await afterMicrotasks();
    performance.mark(`${label}:start`);
    await answered(before);
    await nextTask();
    performance.mark(`${label}:end`);
  },

  // `blocks` blocks of `size` calls, each block one task (as one click handler would be),
  // marked `<label>:<n>`; then as many blocks of an empty handler, marked `<label>:empty:<n>`.
  // bench.py reads each block's task duration (its calls and the microtasks they started)
  // from a Chromium trace.
  async calls(blocks = 100, size = 100, label = "calls") {
    const runBlock = (fn, mark) =>
      new Promise((resolve) =>
        setTimeout(() => {
          performance.mark(mark);
          for (let i = 0; i < size; i++) fn(i);
          resolve();
        }, 0),
      );
    const empty = () => {};
    for (let b = 0; b < blocks; b++) await runBlock(sdk.track, `${label}:${b}`);
    for (let b = 0; b < 20; b++) await runBlock(empty, `${label}:empty:${b}`);
  },

  // The same blocks timed by the page's clock instead of a trace (per block, µs): for
  // MicroPython, whose every setjmp goes through a JS trampoline that tracing slows ~4x. Only
  // the calls themselves are timed, not the tasks they start (masivo_web's are measured apart).
  async timedCalls(blocks = 100, size = 100) {
    const durations = [];
    for (let b = 0; b < blocks; b++) {
      await new Promise((resolve) =>
        setTimeout(() => {
          const started = now();
          for (let i = 0; i < size; i++) sdk.track(i);
          durations.push((now() - started) * 1000);
          resolve();
        }, 0),
      );
    }
    return durations;
  },

  // Same-origin files the page fetched for the SDK (`sdk.files`) or its runtime (`sdk.runtime`).
  fetched(kind) {
    const pattern = sdk[kind];
    if (!pattern) return [];
    return performance
      .getEntriesByType("resource")
      .map((entry) => new URL(entry.name))
      .filter((url) => url.origin === location.origin && pattern.test(url.pathname))
      .map((url) => url.pathname);
  },
};

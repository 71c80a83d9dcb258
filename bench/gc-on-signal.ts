// Preloaded into a benchmarked Verdict (`node --expose-gc --import gc-on-signal.js …`): SIGUSR2
// runs a full garbage collection, so a memory sample counts live objects, not garbage V8 has
// not needed to collect yet (an idle process may hold it for minutes).
process.on('SIGUSR2', () => (globalThis as { gc?: () => void }).gc?.());

// A node:test reporter beside `spec`: counts skipped tests and their reasons, as JSON, so
// the runner's last line can say how many tests a missing tool cost.
export default async function* skipReporter(source) {
  let skipped = 0;
  const reasons = {};
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { skip, details } = event.data;
    if (skip === undefined || details?.type === 'suite') continue;
    skipped += 1;
    const why = typeof skip === 'string' ? skip : 'skipped';
    reasons[why] = (reasons[why] ?? 0) + 1;
  }
  yield JSON.stringify({ skipped, reasons });
}

// The cost table's VM-exit round trip can be replaced by another machine's (`--exit-cost`): every
// reason keeps its handling on top of the new round trip, and no figure goes below the round trip.
import { DEFAULT_COSTS, EXIT_REASONS, withExitRoundTrip, type CostTable } from '../src/index.js';

test('a measured round trip replaces the default one under every exit reason', () => {
  const nested = withExitRoundTrip(DEFAULT_COSTS, 10_000);
  for (const reason of EXIT_REASONS) {
    expect(nested.exit[reason] - DEFAULT_COSTS.exit[reason]).toBe(10_000 - 1500);
  }
  expect(nested.hypercall).toBe(DEFAULT_COSTS.hypercall);
});

test('a table with figures below the default round trip never gets a negative exit cost', () => {
  const zeroed: CostTable = { ...DEFAULT_COSTS, exit: Object.fromEntries(EXIT_REASONS.map((r) => [r, 0])) as CostTable['exit'] };
  const free = withExitRoundTrip(zeroed, 0);
  for (const reason of EXIT_REASONS) expect(free.exit[reason]).toBe(0);
  const cheap = withExitRoundTrip(zeroed, 200);
  for (const reason of EXIT_REASONS) expect(cheap.exit[reason]).toBe(200);
});

/**
 * Runs the documentation examples in test/examples as part of the unit project (whose include
 * pattern covers test/unit only), so they are checked on every run.
 */
import '../../examples/cardSpendPerHour.test.js';

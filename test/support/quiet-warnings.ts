// The tests' and the benchmark's own Kafka clients drop kafkajs's harmless TimeoutNegativeWarning, as
// the relay does, and print every other process warning as usual.
import { reportWarningsExceptTimeoutNegative } from "../../src/process-warnings.ts";

reportWarningsExceptTimeoutNegative((warning) => console.warn(warning));

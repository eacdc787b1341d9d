export { backoffDelay, sleep } from "./backoff.ts";
export { type ActiveFault, FaultGate, type FaultKind, type IntakeGate } from "./fault-gate.ts";
export { DependencyFault } from "./faults.ts";
export { type PipelineDeps, type PipelineSettings, RefundPipeline } from "./pipeline.ts";
export { KeyedScheduler } from "./scheduler.ts";
export type * from "./types.ts";

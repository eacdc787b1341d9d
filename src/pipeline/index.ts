export { backoffDelay, sleep } from "./backoff.ts";
export { type PipelineDeps, type PipelineSettings, RefundPipeline } from "./pipeline.ts";
export { KeyedScheduler } from "./scheduler.ts";
export type * from "./types.ts";

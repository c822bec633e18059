export { ServicePortal } from './portal/index.js';
export type { CloseOptions, EndpointConfig, EndpointHandler, EndpointMethod, PortalHealthOptions, PortalOptions, RunOptions } from './portal/index.js';
export type { EndpointContext } from './context.js';
export { HttpError, toProblem } from './http-error.js';
export type { FieldIssue, HttpErrorOptions, Problem, ProblemBody } from './http-error.js';
export type { OpenApiOptions } from './openapi.js';
export type { TrustProxy } from './client-ip.js';
export { compilePipeline, OutputValidationError } from './pipeline/index.js';
export type { GateCall, GateStep, Identity, Pipeline, PipelineSpec, Transport } from './pipeline/index.js';
export { AuthError, ForbiddenError, GateConfigError, RateLimitError, TokenService, compileGate } from './gates/index.js';
export type {
  ApiKeyEntry,
  AsymmetricAlgorithm,
  AuthErrorCode,
  AuthMode,
  AuthOptions,
  BasicAuthCallback,
  BasicAuthResult,
  CompiledGate,
  CorsOptions,
  GateConfig,
  GateServices,
  IssueOptions,
  LifecycleMode,
  RateLimitRule,
  RateLimitStore,
  RateLimitStoreName,
  TokenOptions,
} from './gates/index.js';

/**
 * HTTP building blocks for the services' Hono apps: the app itself (request
 * id, body limit, /health), one JSON error shape, bearer-token auth (for
 * WebSockets too, with the token as a subprotocol), and validation at the
 * edge with zod.
 *
 * @module
 */
export { type AppEnv, type AppOptions, createApp, DEFAULT_BODY_LIMIT_BYTES } from "./app.ts";
export {
  authenticate,
  type AuthEnv,
  currentUser,
  issueToken,
  requireRole,
  type TokenClaims,
  type User,
} from "./auth.ts";
export {
  DEFAULT_CODES,
  type ErrorBody,
  errorHandler,
  errorResponse,
  HttpError,
  type HttpErrorOptions,
  notFound,
  onError,
  ValidationError,
} from "./errors.ts";
export { authenticatedSocket, closeAtExpiry, TOKEN_EXPIRED_CLOSE } from "./socket.ts";
export { BEARER_PROTOCOL, bearerProtocols, tokenFromProtocols } from "./socket_protocol.ts";
export { fieldsOf, issueMessage, validate } from "./validate.ts";
export { UserSockets } from "./user_sockets.ts";

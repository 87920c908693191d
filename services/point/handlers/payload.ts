/**
 * Reading a command's payload against its contract schema: the kit's
 * {@link parsePayload}, refusing a payload that does not fit with an
 * {@link InvalidPayloadError} (dead-lettered at once).
 *
 * @module
 */
export { InvalidPayloadError, parsePayload } from "../../../kit/payload.ts";

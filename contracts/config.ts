/**
 * Settings of `deno task contracts`, from the environment.
 *
 * @module
 */
import { envString } from "../kit/env.ts";

export interface ContractsConfig {
  /**
   * CONTRACTS_BASELINE_REF: a git revision whose docs/asyncapi.json the
   * guard compares with (e.g. `origin/main` in a pull request's CI), so a
   * change that commits a breaking event and its regenerated document
   * together is still caught. Empty (default): the working tree's copy.
   */
  baselineRef: string;
}

export function loadContractsConfig(): ContractsConfig {
  return { baselineRef: envString("CONTRACTS_BASELINE_REF", "") };
}

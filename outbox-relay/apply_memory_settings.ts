/**
 * Imported first by main.ts: applies the relay's memory settings
 * (memory_settings.ts) before anything else of the relay starts — the
 * process may replace itself here.
 *
 * @module
 */
import { applyMemorySettings } from "./memory_settings.ts";

applyMemorySettings();

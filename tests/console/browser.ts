/**
 * The console's browser harness: Debian's chromium (no browser download)
 * driven by npm playwright-core, a laptop-sized page, screenshots under
 * tests/screenshots/ (git-ignored), and the console process for a Suite.
 *
 * @module
 */
import { type Browser, chromium, type Page } from "playwright-core";
import { ManagedProcess, testPort } from "../support/process.ts";
import type { Suite } from "../support/suite.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
export const SCREENSHOTS = `${ROOT}tests/screenshots`;

/** Debian's chromium, or CHROMIUM_PATH. */
export function chromiumPath(): string {
  return Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
}

/** The console as a process of the suite, reading the suite's own processes. */
export function startConsole(suite: Suite): ManagedProcess {
  const url = (p: ManagedProcess) => `http://127.0.0.1:${p.port}`;
  return new ManagedProcess({
    name: "console",
    script: "services/console/main.ts",
    port: testPort(),
    env: {
      CONSOLE_ORDER_URL: url(suite.orders[0]),
      CONSOLE_INVENTORY_URL: url(suite.inventory),
      CONSOLE_COUPON_URL: url(suite.coupon),
      CONSOLE_POINT_URL: url(suite.point),
      CONSOLE_DEADLETTER_URL: url(suite.deadletter),
      CONSOLE_RELAY_URL: url(suite.relay),
    },
  }).withPortEnv("CONSOLE_HTTP_PORT").start();
}

export interface TimelineRow {
  kind: string;
  steps: string;
  text: string;
}

export class ConsoleBrowser {
  private constructor(
    readonly browser: Browser,
    readonly page: Page,
    readonly url: string,
    readonly pageErrors: string[],
  ) {}

  /** A 1366×768 page (a laptop screen) on `url`. */
  static async launch(url: string): Promise<ConsoleBrowser> {
    const browser = await chromium.launch({
      executablePath: chromiumPath(),
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    page.on("console", (m) => {
      if (m.type() === "error" && !/WebSocket|Failed to load resource/.test(m.text())) {
        errors.push(m.text());
      }
    });
    await Deno.mkdir(SCREENSHOTS, { recursive: true });
    return new ConsoleBrowser(browser, page, url, errors);
  }

  /** Signs in with a token through the fragment (`#token=`), as a bookmark would. */
  async signIn(token: string): Promise<void> {
    await this.page.goto(`${this.url}/#token=${token}`);
    await this.page.locator("#who-name").waitFor();
    await this.page.reload(); // a fresh page with the token kept for the tab
    await this.page.locator("#who-name").waitFor();
  }

  /** The saga timeline as shown: each row's kind, steps and text. */
  async timeline(): Promise<TimelineRow[]> {
    return await this.page.locator("#timeline li").evaluateAll((els) =>
      els.map((e) => ({
        kind: e.getAttribute("data-kind") ?? "",
        steps: e.getAttribute("data-steps") ?? "",
        text: (e.textContent ?? "").replace(/\s+/g, " ").trim(),
      }))
    );
  }

  async assertNoHorizontalScroll(): Promise<void> {
    // A string: evaluated in the page (this file is type-checked without the DOM's types).
    const { scroll, width } = await this.page.evaluate<{ scroll: number; width: number }>(
      "({ scroll: document.documentElement.scrollWidth, width: innerWidth })",
    );
    if (scroll > width) throw new Error(`the page scrolls sideways: ${scroll} > ${width} px`);
    if (this.pageErrors.length > 0) {
      throw new Error(`errors in the page: ${this.pageErrors.join("; ")}`);
    }
  }

  /** A full-page PNG under tests/screenshots/. */
  async shot(name: string): Promise<string> {
    const path = `${SCREENSHOTS}/${name}.png`;
    await this.page.screenshot({ path, fullPage: true });
    return path;
  }

  async close(): Promise<void> {
    await this.browser.close();
  }
}

// ES module entry: .mjs files run as modules (top-level await, import).
import { setTimeout as sleep } from "node:timers/promises";
await sleep(1);
console.log("Hello, world!");

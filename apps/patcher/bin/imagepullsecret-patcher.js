#!/usr/bin/env node
// The installed command. A committed file, so the package manager can link it before the first
// build; the program itself is the build output it loads.
await import("../dist/main.js");

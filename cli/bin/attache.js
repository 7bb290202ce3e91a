#!/usr/bin/env node
// Committed entry point (the bin must exist at install time, before `npm run build` creates dist/).
import '../dist/main.js';

#!/usr/bin/env node
'use strict';
require('../dist/cli/firellava.cjs');

// Mounts the model manager alone on the headless server's HTTP client, for the browser test.
import { mount } from 'svelte';
import ModelManager from '../../../renderer/src/models/ModelManager.svelte';
import { getClient } from '../../../renderer/src/lib/api';

mount(ModelManager, { target: document.getElementById('app'), props: { client: getClient(), firstRun: true } });

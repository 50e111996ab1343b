import { mount } from 'svelte';
import App from './App.svelte';
import { getClient } from './lib/api';
import { shareStoredTheme } from './lib/theme.svelte';
import './theme.css';

const client = getClient();
shareStoredTheme(client);
mount(App, { target: document.getElementById('app')!, props: { client } });

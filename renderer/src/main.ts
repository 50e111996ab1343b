import { mount } from 'svelte';
import App from './App.svelte';
import { getClient } from './lib/api';
import './theme.css';

mount(App, { target: document.getElementById('app')!, props: { client: getClient() } });

// Entry: pick the door to the engine (Electron preload or web mode), then mount the UI.
import './lib/zod-config.ts';
import { mount } from 'svelte';
import App from './App.svelte';
import { detectPlatform } from './lib/platform.ts';
import './app.css';

const target = document.getElementById('app');
if (!target) throw new Error('#app missing');
mount(App, { target, props: { platform: detectPlatform(window) } });

import { mount } from 'svelte';
import App from './app/App.svelte';
import './app/shared/global.css';

const target = document.getElementById('app');
if (!target) throw new Error('missing #app');
export default mount(App, { target });

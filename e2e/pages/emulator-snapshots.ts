// Mounts the snapshot list alone on a database named by ?db=, for its Playwright spec.
import { mount } from 'svelte';
import SnapshotList from '../../src/app/library/SnapshotList.svelte';

const dbName = new URLSearchParams(location.search).get('db') ?? 'blockport-emulator';
mount(SnapshotList, { target: document.getElementById('app')!, props: { dbName } });

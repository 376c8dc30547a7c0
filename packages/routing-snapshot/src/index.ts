export * from './snapshot.js';
export * from './position.js';
export * from './file.js';
export * from './store.js';

const FIRST = [
  'admin',
  'Info',
  'no_reply',
];

const SECOND = [
  'sales',
  'admin'
];

// Export arrays
module.exports = [...FIRST, ...SECOND];
module.exports.FIRST = FIRST;

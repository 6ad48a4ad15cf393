const FIRST = [
  'admin',
  ['x', 'y'].join(''),
];
module.exports = [...FIRST];

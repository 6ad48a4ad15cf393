const FIRST = [
  'admin',
  'it\'s',
];
module.exports = [...FIRST];

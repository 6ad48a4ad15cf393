const FIRST = [
  'admin',
];
const SECOND = [
  'sales',
];
module.exports = [...FIRST];

const FIRST = [
  'admin',

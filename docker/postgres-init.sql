-- SpiceDB keeps its own datastore beside Orgraph's tables, in a database of its own.
CREATE DATABASE spicedb;

-- Run by mariadbd at start-up (--init-file): the database user programs run in.
CREATE DATABASE IF NOT EXISTS coderunner;

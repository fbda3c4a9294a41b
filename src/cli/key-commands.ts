/**
 * The `mqbak key` command tree (init, add, list, remove, passwd) with its help texts: the
 * passwords of an encrypted store. Kept apart from main.ts, which holds the other commands.
 */
import { Option, type Command } from 'commander';
import { jsonOption, scryptN, storeOptions } from './options/common.js';
import type { CommandAction } from './context.js';
import { helpAfter as help, STORES, type HelpSection } from './help-format.js';

const PASSWORDS: HelpSection = {
  title: 'PASSWORDS',
  text:
    "The store's password comes from --password-file FILE or --password-command CMD, else from one of MQBAK_PASSWORD_FILE, MQBAK_PASSWORD_COMMAND or MQBAK_PASSWORD, else from a prompt on a terminal. " +
    'Never from an argument. A new password comes from --new-password-file FILE or is typed twice. If every password of a store is lost, its backups are lost: nobody can decrypt them.',
};

function newKeyOptions(cmd: Command): Command {
  return cmd
    .option('--new-password-file <file>', 'the new password: this file\'s bytes, one final newline removed (default: typed twice)')
    .option('--description <text>', 'one line to tell this key from others in key list (default: empty)')
    .addOption(new Option('--scrypt-n <N>', 'scrypt cost of the new key file, a power of two (default 131072: about 0.6 s)').argParser(scryptN));
}

export function addKeyCommands(program: Command, action: CommandAction): void {
  const load = (sub: 'init' | 'add' | 'list' | 'remove' | 'passwd') => async () => (await import('./commands/key.js')).runner(sub);
  const key = program
    .command('key')
    .summary('encrypt a store and manage its passwords')
    .description(
      'Encryption at rest (docs/ENCRYPTION.md). key init makes a new, empty store encrypted: every backup written to it afterwards is encrypted, and every command reading it needs a password. Several passwords can open one store; adding, changing or removing one rewrites only a small key file, never the data.',
    );
  key.addHelpText(
    'after',
    help(
      `  MQBAK_PASSWORD_FILE=/etc/mqbak/store.pw mqbak key init s3://ops-backups/mq --new-password-file /etc/mqbak/store.pw
  mqbak key list ./backups
  MQBAK_PASSWORD_FILE=old.pw mqbak key passwd ./backups --new-password-file new.pw`,
      STORES,
      PASSWORDS,
    ),
  );

  const init = key.command('init').summary('make a new, empty store encrypted').argument('<store>', 'folder, file:///path or s3://bucket/prefix');
  init.description('Make <store> encrypted with a new random master key, locked by a new password. Refused when the store already has keys or holds unencrypted backups.');
  newKeyOptions(storeOptions(init));
  jsonOption(init, 'the new key (id, created, description, kdf)');
  init
    .addHelpText('after', help(`  mqbak key init ./backups\n  mqbak key init s3://ops-backups/mq --new-password-file /etc/mqbak/store.pw --description "cron on backup-1"`, STORES, PASSWORDS))
    .action(action('key init', load('init')));

  const add = key.command('add').summary('add a password').argument('<store>', 'folder, file:///path or s3://bucket/prefix');
  add.description('Add a password to <store>: the current password opens the master key, which is wrapped again under the new one. No data is rewritten.');
  newKeyOptions(storeOptions(add));
  jsonOption(add, 'the new key');
  add
    .addHelpText('after', help(`  MQBAK_PASSWORD_FILE=store.pw mqbak key add ./backups --new-password-file second.pw --description "vault copy"`, STORES, PASSWORDS))
    .action(action('key add', load('add')));

  const list = key.command('list').summary('list the keys of a store').argument('<store>', 'folder, file:///path or s3://bucket/prefix');
  list.description('List the keys of <store>: id, creation time, scrypt cost and description. Needs no password.');
  storeOptions(list);
  jsonOption(list, '{"keys": [...], "damaged": [...]}');
  list.addHelpText('after', help(`  mqbak key list ./backups\n  mqbak key list s3://ops-backups/mq --json | jq -r '.keys[].id'`, STORES)).action(action('key list', load('list')));

  const remove = key
    .command('remove')
    .summary('remove a password')
    .argument('<store>', 'folder, file:///path or s3://bucket/prefix')
    .argument('<id>', 'the key to remove (see mqbak key list)');
  remove.description('Remove key <id> from <store>. Needs the password of another key of the store; the last key is never removed.');
  storeOptions(remove);
  jsonOption(remove, '{"removed": id}');
  remove
    .addHelpText('after', help(`  MQBAK_PASSWORD_FILE=new.pw mqbak key remove ./backups 0a1b2c3d`, STORES, PASSWORDS))
    .action(action('key remove', load('remove')));

  const passwd = key.command('passwd').summary('change a password').argument('<store>', 'folder, file:///path or s3://bucket/prefix');
  passwd.description('Change the password of the key the current password opens: a new key file replaces it. No data is rewritten.');
  newKeyOptions(storeOptions(passwd));
  jsonOption(passwd, '{"removed": id, "added": key}');
  passwd
    .addHelpText('after', help(`  MQBAK_PASSWORD_FILE=old.pw mqbak key passwd ./backups --new-password-file new.pw`, STORES, PASSWORDS))
    .action(action('key passwd', load('passwd')));
}

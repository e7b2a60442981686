# fish completion for limpet: subcommands, limpet's long options (the
# client's, or doctor's after `limpet doctor`) and destinations from the
# Host lines of ~/.ssh/config, without patterns.  Session ids after
# attach/kill are not completed: that would cost an ssh connection.

# Host names (no patterns) from ~/.ssh/config.
function __limpet_hosts
    set -l cfg ~/.ssh/config
    test -r $cfg; or return 0
    string replace -a '=' ' ' <$cfg | string match -ri '^\s*host\s.*' |
        string replace -ri '^\s*host\s+' '' | string split ' ' |
        string match -rv '[*?!]' | string match -rv '^$'
end

# True while no subcommand and no destination has been typed: only
# limpet's own long options (and their values) so far.
function __limpet_first
    set -l t (commandline -opc)
    set -l vals --keepalive --dead --give-up --ssh --server-path \
        --server-dir --ring-size --predict
    set -l i 2
    while test $i -le (count $t)
        if contains -- $t[$i] $vals
            set i (math $i + 2)
        else if string match -q -- '--?*' $t[$i]
            set i (math $i + 1)
        else
            return 1
        end
    end
    return 0
end

set -l subs ls attach kill doctor new
complete -c limpet -f
complete -c limpet -n __limpet_first -a ls -d 'list your sessions on a host'
complete -c limpet -n __limpet_first -a attach -d 'reattach to a session'
complete -c limpet -n __limpet_first -a kill -d 'end a session'
complete -c limpet -n __limpet_first -a new -d 'start a session (-d: detached)'
complete -c limpet -n __limpet_first -a doctor \
    -d 'find and fix what ends idle SSH sessions'
complete -c limpet -n "not __fish_seen_subcommand_from $subs" \
    -a '(__limpet_hosts)' -d host
complete -c limpet -n "__fish_seen_subcommand_from ls attach kill new" \
    -a '(__limpet_hosts)' -d host

# limpet's own options (not after doctor).
set -l c "not __fish_seen_subcommand_from doctor"
complete -c limpet -n $c -l keepalive -x -d 'heartbeat interval (seconds)'
complete -c limpet -n $c -l dead -x -d 'link dead after this long (seconds)'
complete -c limpet -n $c -l give-up -x -d 'stop reconnecting after (seconds)'
complete -c limpet -n $c -l ssh -x -a '(__fish_complete_command)' \
    -d 'the ssh program to run'
complete -c limpet -n $c -l server-path -r -F -d 'limpet on the server'
complete -c limpet -n $c -l server-dir -x -a '(__fish_complete_directories)' \
    -d 'session directory on the server'
complete -c limpet -n $c -l predict -x -a 'adaptive always never' \
    -d 'predictive local echo'
complete -c limpet -n $c -l install -d 'install limpet on the server if missing'
complete -c limpet -n $c -l json -d 'ls: sessions as JSON'
complete -c limpet -n $c -l ring-size -x -d 'output kept for replay'
complete -c limpet -n $c -l verbose -d 'log what happens'
complete -c limpet -n __limpet_first -l help -d usage
complete -c limpet -n __limpet_first -l version -d version
complete -c limpet -n "__fish_seen_subcommand_from kill" -l all \
    -d 'end every session'

# limpet doctor's options.
set -l d "__fish_seen_subcommand_from doctor"
complete -c limpet -n $d -l probe-nat -d 'measure the NAT idle timeout'
complete -c limpet -n $d -l probe-max -x -d 'longest NAT probe (seconds)'
complete -c limpet -n $d -l probe-times -x -d 'NAT probe idle times'
complete -c limpet -n $d -l probe-wait -x -d 'wait between NAT probes'
complete -c limpet -n $d -l fix -d 'repair the user part'
complete -c limpet -n $d -l yes -d 'do not ask before fixing'
complete -c limpet -n $d -l system -d 'also fix system files'
complete -c limpet -n $d -l json -d 'machine-readable report'
complete -c limpet -n $d -l explain -x -d 'explain one finding'
complete -c limpet -n $d -l status -x -d 'exit status of one check'
complete -c limpet -n $d -l ssh -x -a '(__fish_complete_command)' \
    -d 'the ssh program to run'
complete -c limpet -n $d -l keepalive -x -d 'keepalive to recommend'
complete -c limpet -n $d -l help -d usage

# ssh options that take a file.
complete -c limpet -s i -r -F -d 'identity file'
complete -c limpet -s F -r -F -d 'ssh config file'
complete -c limpet -s p -x -d port
complete -c limpet -s l -x -d 'login name'
complete -c limpet -s J -x -a '(__limpet_hosts)' -d 'jump host'

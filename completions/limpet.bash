# bash completion for limpet                              -*- shell-script -*-
#
# Completes limpet's subcommands, its long options (the client's, or
# doctor's after `limpet doctor`), the ssh options that take an argument,
# and destinations: the Host names of ~/.ssh/config (or of the file given
# with -F), without patterns.  Session ids after `attach`/`kill` are not
# completed: finding them means an ssh connection (limpet ls) per <TAB>.

# Host names (no patterns) from an ssh_config file.
_limpet_hosts()
{
	local f=$1 line h
	local -a w
	[[ -r $f ]] || return 0
	while IFS= read -r line; do
		read -ra w <<<"${line//=/ }"
		[[ ${w[0],,} == host ]] || continue
		for h in "${w[@]:1}"; do
			[[ $h == *[\*\?\!]* ]] || printf '%s\n' "$h"
		done
	done <"$f"
}

_limpet()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD-1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local client='--keepalive --dead --give-up --ssh --server-path
	    --server-dir --ring-size --predict --verbose --install --json'
	local doctor='--probe-nat --probe-max --probe-times --probe-wait --fix
	    --yes --system --json --explain --status --ssh --keepalive --help'
	local sshargs='-B -b -c -D -E -e -F -I -i -J -L -l -m -O -o -p -Q -R
	    -S -W -w'
	# limpet's options whose argument is the next word.
	local valopts='--keepalive --dead --give-up --ssh --server-path
	    --server-dir --ring-size --predict --probe-max --probe-times
	    --probe-wait --explain --status'
	local sub= cfg=~/.ssh/config dest= i w lead=1

	# Find the subcommand (after any of limpet's own options, as in
	# `limpet --server-path X attach`), an -F file and whether a
	# destination was typed.
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		if ((lead)) && [[ -z $sub ]] &&
		    [[ $w == @(ls|attach|kill|doctor|new) ]]; then
			sub=$w
			lead=0
		elif [[ " ${valopts//[[:space:]]/ } " == *" $w "* ]]; then
			((i++))
		elif [[ $w == --?* ]]; then
			:
		elif [[ $w == -F ]]; then
			lead=0
			((i++))
			cfg=${words[i]/#\~/$HOME}
		elif [[ $w == -F?* ]]; then
			lead=0
			cfg=${w#-F}
		elif [[ " ${sshargs//[[:space:]]/ } " == *" $w "* ]]; then
			lead=0
			((i++))
		elif [[ $w != -* ]]; then
			dest=$w
			break
		else
			lead=0
		fi
	done
	# After the destination come a command or a session id: not ours.
	if [[ -n $dest ]]; then
		COMPREPLY=()
		return 0
	fi

	case $prev in
	--ssh)
		COMPREPLY=($(compgen -c -- "$cur"))
		return 0
		;;
	--server-path | -i | -F | -E | -S)
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0
		;;
	--server-dir)
		COMPREPLY=($(compgen -d -- "$cur"))
		return 0
		;;
	--predict)
		COMPREPLY=($(compgen -W "adaptive always never" -- "$cur"))
		return 0
		;;
	--keepalive | --dead | --give-up | --ring-size | --probe-max | \
	--probe-times | --probe-wait | --explain | --status)
		return 0
		;;
	-B | -b | -c | -D | -e | -I | -J | -L | -l | -m | -O | -o | -p | -Q | \
	-R | -W | -w)
		return 0
		;;
	esac

	case $cur in
	--*)
		if [[ $sub == doctor ]]; then
			COMPREPLY=($(compgen -W "$doctor" -- "$cur"))
		elif [[ $sub == kill ]]; then
			COMPREPLY=($(compgen -W "$client --all" -- "$cur"))
		elif [[ -z $sub ]] && ((lead)); then
			COMPREPLY=($(compgen -W "$client --help --version" \
			    -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$client" -- "$cur"))
		fi
		;;
	-*)
		;;
	*)
		local hosts
		hosts=$(_limpet_hosts "$cfg")
		if [[ -z $sub ]] && ((lead)); then
			hosts+=$'\nls\nattach\nkill\ndoctor\nnew'
		fi
		COMPREPLY=($(compgen -W "$hosts" -- "$cur"))
		;;
	esac
	return 0
}
complete -F _limpet limpet

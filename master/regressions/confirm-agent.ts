/**
 * `confirm.agent`: where a confirming rerun may run. 'same': only on the agent that built the first
 * build after the change (its request's `confirming_agent`), so the machine is held constant; 'other':
 * anywhere but there, so a machine gone slow does not confirm itself. Other requests pass, and the
 * builder's own `canStartBuild` still has its say after this.
 */
import type { CanStartBuild } from '../scheduler/queue-hooks.ts';

export function confirmingAgentGate(rule: 'same' | 'other', own: CanStartBuild | undefined): CanStartBuild {
  return (builder, agent, request) => {
    const wanted = request.properties.confirming_agent;
    if (typeof wanted === 'string' && request.properties.confirming !== undefined) {
      const same = agent.name === wanted;
      if (rule === 'same' ? !same : same) return false;
    }
    return own ? own(builder, agent, request) : true;
  };
}

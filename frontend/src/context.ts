/** What a page is handed: the API, the live stream, the message area, navigation, and its scope. */
import type { Api } from './api.ts';
import type { LiveClient } from './live.ts';
import type { MessageArea } from './message.ts';
import type { Scope } from './scope.ts';

export interface AppServices {
  api: Api;
  live: LiveClient;
  message: MessageArea;
  navigate(hash: string): void;
}

export interface PageContext extends AppServices {
  scope: Scope;
}

// An error boundary around one pane: data that breaks a pane's drawing (a value no check
// foresaw) costs that pane, not the console. Without it Ink's own boundary shows the stack and
// exits, and the keys stop working. The pane tries again when its data changes (`retry`).
import { Box, Text } from 'ink';
import { Component, type ReactNode } from 'react';
import { sanitise, sanitiseValue } from '../core/errors/sanitise.js';

export interface PaneBoundaryProps {
  /** What the pane is, for the message: `PC2 pane`, `Errors screen`. */
  name: string;
  width: number;
  /** The data the pane was given, shown (clipped) when it could not be drawn. */
  data?: unknown;
  /** A new value tries the pane again (the version of the data it draws). */
  retry?: unknown;
  children: ReactNode;
}

interface State {
  error?: string;
  retry?: unknown;
}

export class PaneBoundary extends Component<PaneBoundaryProps, State> {
  override state: State = {};

  static getDerivedStateFromError(error: unknown): Partial<State> {
    const message = error instanceof Error ? error.message : String(error);
    return { error: sanitise(message.split('\n')[0] ?? '').slice(0, 200) };
  }

  static getDerivedStateFromProps(props: PaneBoundaryProps, state: State): Partial<State> | null {
    if (props.retry === state.retry) return null;
    return { retry: props.retry, error: undefined };
  }

  override render(): ReactNode {
    if (this.state.error === undefined) return this.props.children;
    return (
      <Box flexDirection="column" width={this.props.width} borderStyle="round" borderColor="red">
        <Text wrap="truncate">{`${this.props.name} could not be drawn: ${this.state.error}`}</Text>
        {this.props.data !== undefined ? (
          <Text wrap="truncate">{`its data: ${sanitiseValue(this.props.data, 300)}`}</Text>
        ) : null}
        <Text wrap="truncate">
          the rest of the console and every key still work; the pane is drawn again when its data
          changes
        </Text>
      </Box>
    );
  }
}

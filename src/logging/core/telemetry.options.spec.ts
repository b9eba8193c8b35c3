import { resolveTelemetryOptions } from './telemetry.options.js';

describe('resolveTelemetryOptions', () => {
  it('is on by default when @opentelemetry/api is installed, off when it is not', () => {
    expect(resolveTelemetryOptions(undefined, true)).toEqual({
      enabled: true,
      captureErrorMessages: false,
      firmIdAttribute: false,
    });
    expect(resolveTelemetryOptions({}, false)).toEqual({
      enabled: false,
      captureErrorMessages: false,
      firmIdAttribute: false,
    });
  });

  it('lets the host turn it off, and on with the API present', () => {
    expect(resolveTelemetryOptions({ enabled: false }, true).enabled).toBe(
      false,
    );
    expect(
      resolveTelemetryOptions(
        { enabled: true, captureErrorMessages: true, firmIdAttribute: true },
        true,
      ),
    ).toEqual({
      enabled: true,
      captureErrorMessages: true,
      firmIdAttribute: true,
    });
  });

  it('refuses enabled: true without the API, naming the fix', () => {
    expect(() => resolveTelemetryOptions({ enabled: true }, false)).toThrow(
      /telemetry\.enabled must be false or left out when @opentelemetry\/api is not installed: install it/,
    );
  });

  it('refuses unknown fields and values that are not booleans', () => {
    expect(() =>
      resolveTelemetryOptions({ exporter: 'otlp' } as never, true),
    ).toThrow(/telemetry\.exporter must be left out/);
    expect(() =>
      resolveTelemetryOptions({ captureErrorMessages: 'yes' } as never, true),
    ).toThrow(
      'LoggingModule option telemetry.captureErrorMessages must be a boolean',
    );
    expect(() => resolveTelemetryOptions([] as never, true)).toThrow(
      /telemetry\. must be an object/,
    );
  });
});

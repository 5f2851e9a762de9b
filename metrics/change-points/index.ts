export { ChangePointDetector, detectChangePoints } from './change-point-detector.ts';
export { DEFAULT_DETECTOR_OPTIONS, detectorOptions, type DetectorOptions } from './detector-options.ts';
export { verdict, worseWhen, type ChangePoint, type Segment, type Verdict } from './change-point.ts';
